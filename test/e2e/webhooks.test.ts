import { sql } from 'kysely';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { createAccount } from '../../src/directory/accounts.js';
import { createApp } from '../../src/oauth/apps.js';
import { applyPlaybooks } from '../../src/response/playbooks.js';
import { describeBackends } from '../support/backends.js';
import {
  appAccessToken,
  auditTrail,
  captureLogs,
  choosePassword,
  mintSessionToken,
  rpc,
  seedAccount,
  testCtx,
  type SeededAccount,
} from '../support/fixtures.js';
import { useServer } from '../support/server.js';
import { startReceiver, type Receiver } from '../support/webhook-receiver.js';

describeBackends('webhooks', (backend) => {
  let core: Core;
  let seed: SeededAccount;
  let ownerToken: string;
  let detectorToken: string;
  let otherAccount: string;
  let otherToken: string;
  let receiver: Receiver;
  let n = 0;
  const logs = captureLogs();
  const suite = useServer(backend, {
    logger: logs.logger,
    env: { CORDON_OAUTH_RATE_PER_CLIENT: '0', CORDON_RESTORE_WORKER_INTERVAL_MS: '600000' },
  });

  const api = (method: 'GET' | 'POST' | 'DELETE', path: string, token = ownerToken, payload?: unknown) =>
    suite.server.inject({
      method,
      url: `/v1/accounts/${seed.accountId}${path}`,
      headers: { authorization: `Bearer ${token}` },
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
  const signal = (email: string, type: string) =>
    suite.server.inject({
      method: 'POST',
      url: `/v1/accounts/${seed.accountId}/signals`,
      headers: { authorization: `Bearer ${detectorToken}` },
      payload: {
        external_id: `alert-${++n}`,
        type,
        title: 'Impossible travel',
        severity: 'high',
        confidence: 0.9,
        subject: { email },
      },
    });
  const auditIndexOf = async (action: string, targetId: string) => {
    await core.audit.sequencer.drain();
    const { rows } = await sql<{ idx: string }>`
      SELECT idx FROM audit_entries WHERE account_id = ${seed.accountId} AND action = ${action}
        AND target_id = ${targetId}`.execute(core.database.db);
    return Number(rows[0]!.idx);
  };

  beforeAll(async () => {
    core = suite.core;
    receiver = await startReceiver();
    seed = await seedAccount(core, 2);
    ownerToken = await mintSessionToken(core, seed.owner);
    await applyPlaybooks(core.response, testCtx, seed.accountId, [
      { name: 'ask-one', priority: 10, match: { types: ['ask.*'] }, action: 'suspend', mode: 'approval' },
      {
        name: 'ask-quick',
        priority: 10,
        match: { types: ['quick.*'] },
        action: 'suspend',
        mode: 'approval',
        approval_expires_after: '2m',
      },
      { name: 'auto-contain', priority: 10, match: { types: ['auto.*'] }, action: 'suspend', mode: 'auto' },
    ]);
    const detector = await createApp(core.directory, testCtx, seed.accountId, {
      name: 'siem',
      permissions: ['signals:write'],
    });
    detectorToken = await appAccessToken(suite.server, detector.app.client_id, detector.clientSecret!);
    const other = await createAccount(core.directory, testCtx, {
      name: 'Other Co',
      owner: { email: 'owner@other.example', display_name: 'Other Owner' },
    });
    await choosePassword(core, other.owner);
    otherAccount = other.account.id;
    otherToken = await mintSessionToken(core, other.owner);
  });
  afterAll(async () => receiver?.close());

  describe('a subscription', () => {
    let webhookId: string;
    let secret: string;

    beforeAll(async () => {
      const res = await api('POST', '/webhooks', ownerToken, {
        url: receiver.url,
        events: ['plan.pending_approval', 'plan.denied', 'plan.expired'],
      });
      expect(res.statusCode, res.body).toBe(201);
      ({ secret } = res.json<{ secret: string }>());
      webhookId = res.json<{ webhook: { id: string } }>().webhook.id;
    });

    it('is answered with its secret once, and never again: not in reads, audit entries, logs or at rest', async () => {
      const created = (
        await sql<{ secret: string }>`
        SELECT secret FROM webhook_subscriptions WHERE id = ${webhookId}`.execute(core.database.db)
      ).rows[0]!;
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      const shown = {
        id: webhookId,
        // After its creation, the receiver's origin only: the path of an incoming-webhook URL is a credential.
        url: `${new URL(receiver.url).origin}/…`,
        events: ['plan.pending_approval', 'plan.denied', 'plan.expired'],
        format: 'standard',
        enabled: true,
        disabled_reason: null,
        consecutive_failures: 0,
        create_time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as string,
      };
      const one = await api('GET', `/webhooks/${webhookId}`);
      expect(one.json()).toEqual(shown);
      expect((await api('GET', '/webhooks')).json()).toEqual({ webhooks: [shown] });
      const key = secret.slice('whsec_'.length);
      expect(created.secret).toMatch(/^v1\./);
      expect(created.secret).not.toContain(key);
      const trail = JSON.stringify(await auditTrail(core, seed.accountId));
      expect(trail).not.toContain(key);
      expect(logs.lines.join('')).not.toContain(key);
      const entry = (await auditTrail(core, seed.accountId)).find((e) => e.action === 'webhook.create')!;
      expect(entry).toMatchObject({
        actor_type: 'user',
        actor_id: seed.owner.id,
        target_type: 'webhook',
        target_id: webhookId,
        outcome: 'changed',
        details: {
          host: new URL(receiver.url).host,
          events: ['plan.pending_approval', 'plan.denied', 'plan.expired'],
          format: 'standard',
          enabled: true,
        },
      });
    });

    it('gets a pending approval (bench/webhooks.ts times it), signed as standardwebhooks verifies', async () => {
      const before = receiver.received.length;
      const subject = seed.members[0]!;
      const res = await signal(subject.email, 'ask.travel');
      expect(res.json().plan.status).toBe('pending_approval');
      const planId = res.json().plan.id as string;
      const [got] = (await receiver.waitFor(before + 1, 3000)).slice(before);
      const verified = new Webhook(secret).verify(got!.body, got!.headers as Record<string, string>);
      const source = (
        await sql<{ source_id: string }>`
        SELECT source_id FROM signals WHERE id = ${res.json().signal.id as string}`.execute(core.database.db)
      ).rows[0]!;
      expect(verified).toEqual({
        type: 'plan.pending_approval',
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/) as string,
        data: {
          account_id: seed.accountId,
          audit_index: await auditIndexOf('plan.create', planId),
          plan_id: planId,
          subject: { user_id: subject.id, email: subject.email, display_name: subject.display_name },
          signal: { title: 'Impossible travel', severity: 'high', source: source.source_id },
          console_url: `${core.issuer}/console/plans/${planId}`,
        },
      });
      expect(got!.headers['webhook-id']).toMatch(/^msg_[A-Z2-7]{26}$/);
      expect(Number(got!.headers['webhook-timestamp'])).toBeCloseTo(Date.now() / 1000, -1);
      expect(got!.headers['user-agent']).toMatch(/^Cordon\/\S+$/);
      expect(got!.headers['content-type']).toBe('application/json');

      // The denial is an event too; the subscription does not take executions, so an approval would say nothing.
      const denied = await api('POST', `/plans/${planId}:deny`, ownerToken, {
        reason: 'benign: travel',
        action_digest: res.json().plan.action_digest as string,
      });
      expect(denied.statusCode, denied.body).toBe(200);
      const [deny] = (await receiver.waitFor(before + 2)).slice(before + 1);
      expect(new Webhook(secret).verify(deny!.body, deny!.headers as Record<string, string>)).toMatchObject({
        type: 'plan.denied',
        data: { plan_id: planId, reason: 'benign: travel', audit_index: await auditIndexOf('plan.deny', planId) },
      });

      // The delivery log, once the worker recorded the attempt the receiver answered: newest first.
      let log = await api('GET', `/webhooks/${webhookId}/deliveries`);
      for (let i = 0; i < 100 && log.json().deliveries[0].state !== 'delivered'; i++)
        log = await new Promise((resolve) => setTimeout(resolve, 20)).then(() =>
          api('GET', `/webhooks/${webhookId}/deliveries`),
        );
      const deliveries = log.json<{ deliveries: Array<Record<string, unknown>> }>().deliveries;
      expect(deliveries.slice(0, 2)).toEqual([
        expect.objectContaining({
          message_id: deny!.headers['webhook-id'],
          event: 'plan.denied',
          state: 'delivered',
          attempts: 1,
          next_attempt_time: null,
          attempt_log: [
            {
              attempt: 1,
              time: expect.any(String),
              status_code: 204,
              latency_ms: expect.any(Number),
              error: null,
              response_excerpt: null,
            },
          ],
        }),
        expect.objectContaining({
          message_id: got!.headers['webhook-id'],
          event: 'plan.pending_approval',
          state: 'delivered',
        }),
      ]);
      expect(JSON.stringify(log.json())).not.toContain(secret.slice(6));
    });

    it("expires a plan at its playbook's approval_expires_after, and notifies plan.expired", async () => {
      const before = receiver.received.length;
      const res = await signal(seed.members[1]!.email, 'quick.travel');
      const plan = res.json().plan as { id: string };
      const row = (
        await sql<{ created_at: Date; expires_at: Date }>`
        SELECT created_at, expires_at FROM plans WHERE id = ${plan.id}`.execute(core.database.db)
      ).rows[0]!;
      expect(new Date(row.expires_at).getTime() - new Date(row.created_at).getTime()).toBeCloseTo(120_000, -3);
      await receiver.waitFor(before + 1);
      await sql`UPDATE plans SET expires_at = now() - interval '1 second' WHERE id = ${plan.id}`.execute(
        core.database.db,
      );
      await core.containmentWorker.pass();
      const [, expired] = (await receiver.waitFor(before + 2)).slice(before);
      expect(JSON.parse(expired!.body)).toMatchObject({
        type: 'plan.expired',
        data: { plan_id: plan.id, audit_index: await auditIndexOf('plan.expire', plan.id) },
      });
    });

    it('tells another subscription of an executed plan and the containment it opened', async () => {
      const other = (
        await api('POST', '/webhooks', ownerToken, {
          url: receiver.url,
          events: ['plan.executed', 'containment.opened'],
          format: 'standard',
        })
      ).json<{ secret: string }>();
      const before = receiver.received.length;
      const res = await signal(seed.members[0]!.email, 'auto.travel');
      const { id: planId, containment_id: containmentId } = res.json().plan as { id: string; containment_id: string };
      const got = (await receiver.waitFor(before + 2)).slice(before);
      const bodies = got.map((r) => new Webhook(other.secret).verify(r.body, r.headers as Record<string, string>));
      const common = { account_id: seed.accountId, plan_id: planId, containment_id: containmentId };
      expect(bodies).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ type: 'plan.executed', data: expect.objectContaining(common) as object }),
          expect.objectContaining({
            type: 'containment.opened',
            data: expect.objectContaining({
              ...common,
              signal: expect.objectContaining({ title: 'Impossible travel' }) as object,
              console_url: `${core.issuer}/console/containments/${containmentId}`,
            }) as object,
          }),
        ]),
      );
    });

    it("is the account's own: another account's owner can neither list nor read nor remove it", async () => {
      const asOther = (method: 'GET' | 'DELETE', path: string) =>
        suite.server.inject({ method, url: path, headers: { authorization: `Bearer ${otherToken}` } });
      const denied = rpc(7, 'the session belongs to another account', 'PERMISSION_DENIED');
      expect((await asOther('GET', `/v1/accounts/${seed.accountId}/webhooks`)).json()).toEqual(denied);
      expect((await asOther('GET', `/v1/accounts/${seed.accountId}/webhooks/${webhookId}`)).json()).toEqual(denied);
      expect((await asOther('DELETE', `/v1/accounts/${seed.accountId}/webhooks/${webhookId}`)).json()).toEqual(denied);
      const ownPath = `/v1/accounts/${otherAccount}/webhooks`;
      expect((await asOther('GET', ownPath)).json()).toEqual({ webhooks: [] });
      const crossed = await asOther('GET', `${ownPath}/${webhookId}`);
      expect([crossed.statusCode, crossed.json()]).toEqual([404, rpc(5, 'webhook not found', 'NOT_FOUND')]);
      const member = await mintSessionToken(core, seed.members[1]!);
      expect((await api('GET', '/webhooks', member)).statusCode).toBe(403);
      expect((await api('GET', `/webhooks/${webhookId}`)).statusCode).toBe(200);
    });
  });
});
