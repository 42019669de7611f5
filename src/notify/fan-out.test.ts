import { readFileSync } from 'node:fs';
import { sql, type Kysely, type KyselyPlugin, type Transaction } from 'kysely';
import { describe, expect, it } from 'vitest';
import { suspendUser } from '../directory/user-state.js';
import type { Database } from '../storage/schema.js';
import { sequenceLog } from '../audit/sequencer.js';
import { getLogSize, type NumberedEntry } from '../store/audit.js';
import { describeBackends, useSharedCore } from '../../test/support/backends.js';
import { seedAccount, testCtx } from '../../test/support/fixtures.js';
import { EVENT_MEANINGS, eventOf, WEBHOOK_EVENTS } from './events.js';
import { fanOut } from './fan-out.js';
import { createWebhook, removeWebhook } from './subscriptions.js';

const entry = (action: string, details: Record<string, unknown> = {}, outcome = 'changed'): NumberedEntry => ({
  account_id: 'A',
  idx: 7,
  recorded_at: '2026-01-01T00:00:00.000000Z',
  actor_type: 'system',
  actor_id: 'cordon',
  action,
  target_type: 'plan',
  target_id: 'T',
  cause: {},
  authz: {},
  outcome: outcome as NumberedEntry['outcome'],
  details,
});

describe('the mapping of audit entries to events', () => {
  it('is the one table: each event from the entries that mean it, and only from changes', () => {
    const type = (e: NumberedEntry) => eventOf(e)?.type;
    expect(type(entry('plan.create', { status: 'pending_approval' }))).toBe('plan.pending_approval');
    expect(type(entry('plan.create', { status: 'executed' }))).toBe('plan.executed');
    expect(type(entry('plan.create', { status: 'no_action' }))).toBeUndefined();
    expect(type(entry('plan.approve', { plan_status: 'executed' }))).toBe('plan.executed');
    expect(type(entry('plan.approve', { plan_status: 'pending_approval' }))).toBeUndefined();
    expect(type(entry('plan.deny'))).toBe('plan.denied');
    expect(type(entry('plan.expire'))).toBe('plan.expired');
    expect(
      eventOf(entry('containment.restore_request', { plan_id: 'P', approvals: 1, approvals_required: 2 })),
    ).toEqual({ type: 'plan.pending_approval', about: { plan: 'P' } });
    expect(type(entry('containment.restore_request', { plan_id: 'P', approvals: 1, approvals_required: 1 }))).toBe(
      undefined,
    );
    expect(eventOf(entry('user.suspend'))).toEqual({ type: 'containment.opened', about: { userContainment: 'T' } });
    expect(type(entry('user.suspend', {}, 'unchanged'))).toBeUndefined();
    expect(type(entry('user.suspend', {}, 'refused'))).toBeUndefined();
    expect(type(entry('containment.partial'))).toBe('containment.partial');
    expect(type(entry('containment.restored'))).toBe('containment.restored');
    // A restore with remote targets ends at their containment.restored, not at its own entry.
    expect(type(entry('containment.restore'))).toBe('containment.restored');
    expect(type(entry('containment.restore', { targets: [] }))).toBeUndefined();
    expect(eventOf(entry('automation.breaker_trip', { plan_id: 'P' }))).toEqual({
      type: 'breaker.tripped',
      about: { plan: 'P' },
    });
    expect(eventOf(entry('automation.pause'))).toEqual({ type: 'automation.paused', about: 'account' });
    expect(type(entry('automation.resume'))).toBeUndefined();
    expect(type(entry('constructor'))).toBeUndefined();
  });
});

describe("a leaked secret's events", () => {
  const leaked = (target_type: string, details: Record<string, unknown>, outcome = 'read') => ({
    ...entry('secret.leaked', { token_hash: 'h', kind: 'cs', ...details }, outcome),
    target_type,
    target_id: 'O',
  });

  it('are secret.leaked (a read, by its owner) and containment.opened (by its record)', () => {
    expect(eventOf(entry('containment.open'))).toEqual({ type: 'containment.opened', about: { containment: 'T' } });
    expect(eventOf(entry('containment.open', {}, 'refused'))).toBeUndefined();
    expect(eventOf(leaked('app', {}))).toEqual({
      type: 'secret.leaked',
      about: { leak: { type: 'app', id: 'O', token_hash: 'h', kind: 'cs' } },
    });
    expect(eventOf(leaked('app', { kind: 'et', credential: { type: 'events_token', id: 'E' } }))?.about).toEqual({
      leak: { type: 'app', id: 'O', token_hash: 'h', kind: 'et', credential: { type: 'events_token', id: 'E' } },
    });
    expect(eventOf(leaked('user', { kind: 'sess', credential: { type: 'session', id: 'S' } }))?.about).toEqual({
      leak: { type: 'session', id: 'S', user_id: 'O', token_hash: 'h', kind: 'sess' },
    });
    expect(eventOf(leaked('source', {}))?.type).toBe('secret.leaked');
    // Only the read a leak report records; no other read is an event.
    expect(eventOf(leaked('app', {}, 'refused'))).toBeUndefined();
    expect(eventOf(leaked('app', { token_hash: undefined }))).toBeUndefined();
    expect(eventOf(entry('user.suspend', {}, 'read'))).toBeUndefined();
  });

  it("are in the README's table of events, as is every event", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const event of WEBHOOK_EVENTS) expect(readme).toContain(`| \`${event}\` | ${EVENT_MEANINGS[event]}`);
  });
});

/** The database as the fan-out sees it, counting the statements it runs. */
function counting(db: Kysely<Database>) {
  const counter = { statements: 0 };
  const plugin: KyselyPlugin = {
    transformQuery: (args) => (counter.statements++, args.node),
    transformResult: (args) => Promise.resolve(args.result),
  };
  return { trx: db.withPlugin(plugin) as unknown as Transaction<Database>, counter };
}

describeBackends('the fan-out', (backend) => {
  const shared = useSharedCore(backend);
  const inPass = (onDeliveries = () => undefined) =>
    fanOut({ issuer: () => 'https://cordon.example', giveUpSeconds: 60, onDeliveries });

  it('costs no statement for entries that are no event, and one for an account with no subscription', async () => {
    const { accountId } = await seedAccount(shared.core, 0);
    const { trx, counter } = counting(shared.core.database.db);
    const account = (e: NumberedEntry) => ({ ...e, account_id: accountId });
    expect(await inPass()(trx, accountId, [account(entry('user.create')), account(entry('plan.approve'))])).toBe(
      undefined,
    );
    expect(counter.statements).toBe(0);
    expect(await inPass()(trx, accountId, [account(entry('plan.deny')), account(entry('automation.pause'))])).toBe(
      undefined,
    );
    expect(counter.statements).toBe(1);
  });

  it('writes one message per event and one delivery per subscription that takes it, exactly once', async () => {
    const { core } = shared;
    const { accountId, members } = await seedAccount(core, 2);
    const slack = await createWebhook(core.notify, testCtx, accountId, {
      url: 'https://hooks.slack.example/services/T/B/X',
      events: ['containment.opened'],
      format: 'slack',
    });
    const other = await createWebhook(core.notify, testCtx, accountId, {
      url: 'https://hooks.example/other',
      events: ['plan.denied'],
    });
    const removed = await createWebhook(core.notify, testCtx, accountId, {
      url: 'https://hooks.example/removed',
      events: ['containment.opened'],
    });
    await removeWebhook(core.notify, testCtx, accountId, removed.webhook.id);
    await suspendUser(core.directory, testCtx, accountId, members[0]!.id);
    await core.audit.sequencer.drain();
    await core.audit.sequencer.drain();
    const { rows } = await sql<{ event_type: string; payload: string; slack_payload: string; subscriptions: string[] }>`
      SELECT m.event_type, m.payload, m.slack_payload, array_agg(d.subscription_id) AS subscriptions
      FROM webhook_messages m JOIN webhook_deliveries d ON d.account_id = m.account_id AND d.message_id = m.id
      WHERE m.account_id = ${accountId} GROUP BY m.account_id, m.id`.execute(core.database.db);
    expect(rows.map((r) => [r.event_type, r.subscriptions])).toEqual([['containment.opened', [slack.webhook.id]]]);
    expect(other.webhook.id).not.toBe(slack.webhook.id);
    const containment = (
      await sql<{ id: string }>`
      SELECT id FROM containments WHERE user_id = ${members[0]!.id}`.execute(core.database.db)
    ).rows[0]!;
    const data = JSON.parse(rows[0]!.payload).data as Record<string, unknown>;
    expect(data).toEqual({
      account_id: accountId,
      audit_index: expect.any(Number) as number,
      containment_id: containment.id,
      subject: { user_id: members[0]!.id, email: 'm0@test.example', display_name: 'Member 0' },
      console_url: `${core.issuer}/console/containments/${containment.id}`,
    });
    expect(JSON.parse(rows[0]!.slack_payload)).toEqual({
      text: 'A user was contained: m0@test.example',
      blocks: [
        {
          type: 'section',
          text: { type: 'mrkdwn', text: '*A user was contained*\nSubject: Member 0 (m0@test.example)' },
        },
        {
          type: 'actions',
          elements: [
            {
              type: 'button',
              text: { type: 'plain_text', text: 'Open in Cordon' },
              url: `${core.issuer}/console/containments/${containment.id}`,
            },
          ],
        },
      ],
    });
  });

  it("runs in the numbering's transaction: a failure leaves entries unnumbered, then they come once", async () => {
    const { core } = shared;
    await core.audit.sequencer.stop();
    const { accountId } = await seedAccount(core, 0);
    await core.audit.sequencer.drain();
    const size = await getLogSize(core.database.db, accountId);
    for (const i of [1, 2])
      await core.audit.record({
        accountId,
        ctx: testCtx,
        action: 'user.read',
        target: { type: 'user', id: `U${i}` },
        outcome: 'read',
      });
    const failing = () => Promise.reject(new Error('the hook failed'));
    await expect(sequenceLog(core.database.db, accountId, 100, { inPass: failing })).rejects.toThrow('the hook failed');
    expect(await getLogSize(core.database.db, accountId)).toBe(size);
    const seen: number[] = [];
    let committed = 0;
    const hooks = {
      inPass: (_trx: unknown, _log: string, fresh: NumberedEntry[]) => {
        seen.push(...fresh.map((e) => e.idx));
        return Promise.resolve(() => void committed++);
      },
    };
    expect(await sequenceLog(core.database.db, accountId, 100, hooks)).toBe(2);
    expect(await sequenceLog(core.database.db, accountId, 100, hooks)).toBe(0);
    expect(seen).toEqual([size, size + 1]);
    expect(committed).toBe(1);
  });
});
