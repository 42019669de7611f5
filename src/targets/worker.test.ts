/**
 * The remote steps of a containment, end to end through the engine and the step worker, against scripted
 * targets (test/support/step-world.ts): written with the plan (or not at all), verified, protected,
 * retried after Retry-After, failed at the deadline, shared by two workers, resumed after a crash.
 */
import { sql } from 'kysely';
import { beforeAll, expect, it } from 'vitest';
import { describeBackends, useSharedCore } from '../../test/support/backends.js';
import { auditTrail } from '../../test/support/fixtures.js';
import { stepWorld, targetError, type StepWorld } from '../../test/support/step-world.js';
import type { ResponseDeps } from '../response/engine.js';
import { receiveSignal } from '../response/engine.js';
import { listStepsOf } from '../store/steps.js';
import { RESOLVE_AT_EXECUTION } from './steps.js';

describeBackends('step worker', (backend) => {
  const shared = useSharedCore(backend);
  beforeAll(async () => {
    // Only the tests' own workers (with the scripted connectors) carry steps out.
    await shared.core.stepWorker.stop();
  });
  const db = () => shared.core.database.db;
  const steps = async (w: StepWorld, containmentId: string) =>
    (await listStepsOf(db(), w.accountId, [containmentId])).map((s) => ({
      target: s.target_name,
      operation: s.operation,
      status: s.status,
      attempts: s.attempts,
      external_id: s.external_id,
      observed_state: s.observed_state,
    }));
  const record = async (id: string) =>
    (await db()
      .selectFrom('containments')
      .select(['targets_state', 'status'])
      .where('id', '=', id)
      .executeTakeFirst())!;
  const entries = async (w: StepWorld, prefix: string) =>
    (await auditTrail(shared.core, w.accountId)).filter((e) => e.action.startsWith(prefix));

  it('writes a step per target with the plan; the worker verifies each: contained, with exact entries', async () => {
    const w = await stepWorld(shared.core);
    const m0 = w.members[0]!;
    const { plan } = await w.signal(m0.email);
    expect(plan!.status).toBe('executed');
    const execute = (plan!.verdicts as Array<{ step: string; details?: { targets?: unknown[] } }>).find(
      (v) => v.step === 'execute',
    )!;
    expect(execute.details!.targets).toEqual([
      expect.objectContaining({ target: 'gt', kind: 'gtr', would: 'suspend', external_id: RESOLVE_AT_EXECUTION }),
      expect.objectContaining({ target: 'op', kind: 'onepassword', would: 'suspend', external_id: 'OP-0' }),
      expect.objectContaining({ target: 'sc', kind: 'scim', would: 'suspend', external_id: RESOLVE_AT_EXECUTION }),
    ]);
    const containmentId = plan!.containment_id!;
    expect(await record(containmentId)).toEqual({ targets_state: 'in_progress', status: 'open' });
    expect((await steps(w, containmentId)).map((s) => [s.target, s.status, s.attempts])).toEqual([
      ['gt', 'pending', 0],
      ['op', 'pending', 0],
      ['sc', 'pending', 0],
    ]);

    expect(await w.worker().pass()).toBe(3);
    expect(await steps(w, containmentId)).toEqual([
      {
        target: 'gt',
        operation: 'suspend',
        status: 'verified',
        attempts: 1,
        external_id: m0.email,
        observed_state: null,
      },
      {
        target: 'op',
        operation: 'suspend',
        status: 'verified',
        attempts: 1,
        external_id: 'OP-0',
        observed_state: 'SUSPENDED',
      },
      {
        target: 'sc',
        operation: 'suspend',
        status: 'verified',
        attempts: 1,
        external_id: 'SC-0',
        observed_state: 'SUSPENDED',
      },
    ]);
    expect(w.fakes.get(w.targets.op)!.log).toEqual(['suspend OP-0', 'read OP-0']);
    expect(w.fakes.get(w.targets.sc)!.log).toEqual([`resolve ${m0.email}`, 'suspend SC-0', 'read SC-0']);
    expect(w.fakes.get(w.targets.gt)!.log).toEqual([`resolve ${m0.email}`, `suspend ${m0.email}`]);
    expect(await record(containmentId)).toEqual({ targets_state: 'contained', status: 'open' });

    const attempts = await entries(w, 'target.attempt');
    expect(attempts).toHaveLength(3);
    for (const a of attempts) {
      expect(a.actor_type).toBe('responder');
      expect(a.cause['plan_id']).toBe(plan!.id);
      expect(a.details).toMatchObject({ operation: 'suspend', attempt: 1, outcome: 'verified', error: null });
    }
    expect(attempts.find((a) => a.details['target_name'] === 'op')!.details['calls']).toEqual([
      { method: 'POST', path: '/suspend/OP-0', status: 200, latency_ms: 1, request_id: null },
      { method: 'GET', path: '/read/OP-0', status: 200, latency_ms: 1, request_id: null },
    ]);
    expect(
      (await entries(w, 'target.step')).map((e) => [e.details['target_name'], e.details['status'], e.outcome]),
    ).toEqual(
      expect.arrayContaining([
        ['gt', 'verified', 'changed'],
        ['op', 'verified', 'changed'],
        ['sc', 'verified', 'changed'],
      ]),
    );
    const contained = await entries(w, 'containment.');
    expect(contained.map((e) => e.action)).toEqual(['containment.contained']);
    expect(contained[0]!.target_id).toBe(containmentId);
    expect(await entries(w, 'containment.partial')).toEqual([]);
    const stored = (await db().selectFrom('plans').select('verdicts').where('id', '=', plan!.id).executeTakeFirst())!;
    expect((stored.verdicts as Array<{ step: string }>).at(-1)).toMatchObject({
      step: 'targets',
      outcome: 'pass',
      reason: 'contained on every target',
    });
    // Nothing is left to claim.
    expect(await w.worker().pass()).toBe(0);
  });

  it('writes the steps in the plan transaction: a rollback leaves no step, record or plan', async () => {
    const w = await stepWorld(shared.core);
    const core = shared.core;
    const failing: ResponseDeps = {
      ...core.response,
      audit: Object.assign(Object.create(core.audit) as typeof core.audit, {
        transact: <T>(fn: (trx: never) => Promise<T>) =>
          core.audit.transact(async (trx) => {
            await fn(trx as never);
            throw new Error('rolled back after the plan');
          }),
      }),
    };
    await expect(
      receiveSignal(failing, {
        accountId: w.accountId,
        sourceId: 'test',
        signal: {
          external_id: 'rollback',
          type: 't',
          title: 't',
          severity: 'high',
          confidence: 0.9,
          subject: { email: w.members[0]!.email },
          observed_time: new Date().toISOString(),
          tags: [],
        },
        rawText: '{}',
        ctx: { actor: { type: 'operator', id: 'x' }, authz: { method: 'test' } },
      }),
    ).rejects.toThrow('rolled back after the plan');
    const count = async (table: 'target_steps' | 'containments' | 'plans') =>
      Number(
        (
          await sql<{
            n: string;
          }>`SELECT count(*) AS n FROM ${sql.table(table)} WHERE account_id = ${w.accountId}`.execute(db())
        ).rows[0]!.n,
      );
    expect([await count('target_steps'), await count('containments'), await count('plans')]).toEqual([0, 0, 0]);
  });

  it('a protected answer ends the step protected, never retried: the record and the plan say partial', async () => {
    const w = await stepWorld(shared.core);
    w.fakes.get(w.targets.op)!.fail('suspend', targetError('protected', 403));
    const { plan } = await w.signal(w.members[0]!.email);
    const containmentId = plan!.containment_id!;
    await w.worker().pass();
    expect((await steps(w, containmentId)).map((s) => [s.target, s.status, s.attempts])).toEqual([
      ['gt', 'verified', 1],
      ['op', 'protected', 1],
      ['sc', 'verified', 1],
    ]);
    expect(await record(containmentId)).toEqual({ targets_state: 'partial', status: 'open' });
    const partial = await entries(w, 'containment.');
    expect(partial.map((e) => e.action)).toEqual(['containment.partial']);
    expect(partial[0]!.details['failed']).toEqual([
      { target: 'op', target_id: w.targets.op, step_id: expect.any(String) as string, status: 'protected' },
    ]);
    const attempt = (await entries(w, 'target.attempt')).find((e) => e.details['target_name'] === 'op')!;
    expect(attempt.outcome).toBe('refused');
    expect(attempt.details['error']).toEqual({
      class: 'protected',
      status: 403,
      code: 'no_owner_remain',
      message: 'scripted 403',
      request_id: 'req-1',
    });
    const stored = (await db().selectFrom('plans').select('verdicts').where('id', '=', plan!.id).executeTakeFirst())!;
    expect((stored.verdicts as Array<{ step: string }>).at(-1)).toMatchObject({
      step: 'targets',
      outcome: 'stop',
      reason: 'partial: protected on op',
    });
    await sql`UPDATE target_steps SET next_attempt_at = now() - interval '1 hour'
      WHERE account_id = ${w.accountId}`.execute(db());
    expect(await w.worker().pass()).toBe(0);
    expect(w.fakes.get(w.targets.op)!.log).toEqual(['suspend OP-0']);
  });

  it('a 429 is retried no sooner than its Retry-After; past the deadline the step fails: partial', async () => {
    const w = await stepWorld(shared.core, ['sc', 'op']);
    const sc = w.fakes.get(w.targets.sc)!;
    sc.fail('suspend', targetError('retry', 429, 120_000));
    const { plan } = await w.signal(w.members[0]!.email);
    const containmentId = plan!.containment_id!;
    const before = Date.now();
    await w.worker().pass();
    const step = (await listStepsOf(db(), w.accountId, [containmentId])).find((s) => s.target_name === 'sc')!;
    expect([step.status, step.attempts, step.attempt_open, step.lease_owner]).toEqual(['pending', 1, false, null]);
    expect(new Date(step.next_attempt_at).getTime()).toBeGreaterThanOrEqual(before + 120_000);
    expect(step.last_error).toMatchObject({ class: 'retry', status: 429 });
    expect(await record(containmentId)).toEqual({ targets_state: 'in_progress', status: 'open' });
    expect(await w.worker().pass()).toBe(0);

    // Due again: a 500 this time, then the deadline passes before the next try.
    sc.fail('suspend', targetError('retry', 500));
    await sql`UPDATE target_steps SET next_attempt_at = now() WHERE id = ${step.id}`.execute(db());
    await w.worker().pass();
    await sql`UPDATE target_steps SET next_attempt_at = now(), deadline_at = now() - interval '1 second'
      WHERE id = ${step.id}`.execute(db());
    expect(await w.worker().pass()).toBe(1);
    const failed = (await listStepsOf(db(), w.accountId, [containmentId])).find((s) => s.id === step.id)!;
    expect([failed.status, failed.attempts, failed.last_error]).toEqual([
      'failed',
      2,
      { class: 'deadline', message: 'the step passed its deadline' },
    ]);
    // The id the first attempt resolved is remembered on the step: the second does not resolve again.
    expect(sc.log).toEqual([`resolve ${w.members[0]!.email}`, 'suspend SC-0', 'suspend SC-0']);
    expect(await record(containmentId)).toEqual({ targets_state: 'partial', status: 'open' });
    expect(
      (await entries(w, 'target.attempt')).filter((e) => e.target_id === step.id).map((e) => e.details['outcome']),
    ).toEqual(['retry', 'retry']);
    expect((await entries(w, 'containment.partial'))[0]!.details['failed']).toEqual([
      { target: 'sc', target_id: w.targets.sc, step_id: step.id, status: 'failed' },
    ]);
  });

  it('a read-back that fails (429) is an attempt to retry, recorded at once: the step is not left open', async () => {
    const w = await stepWorld(shared.core, ['sc']);
    const sc = w.fakes.get(w.targets.sc)!;
    sc.fail('read', targetError('retry', 429, 5_000));
    const { plan } = await w.signal(w.members[0]!.email);
    const containmentId = plan!.containment_id!;
    await w.worker().pass();
    const step = (await listStepsOf(db(), w.accountId, [containmentId]))[0]!;
    expect([step.status, step.attempts, step.attempt_open, step.lease_owner]).toEqual(['pending', 1, false, null]);
    expect(step.last_error).toMatchObject({ class: 'retry', status: 429 });
    const attempts = (await entries(w, 'target.attempt')).filter((e) => e.target_id === step.id);
    expect(attempts.map((e) => [e.details['outcome'], (e.details['calls'] as unknown[]).length])).toEqual([
      ['retry', 3],
    ]);
    expect(sc.log).toEqual([`resolve ${w.members[0]!.email}`, 'suspend SC-0', 'read SC-0']);
  });

  it('an identity the target no longer has (404) ends its step gone, and the mirror forgets it', async () => {
    const w = await stepWorld(shared.core, ['op']);
    w.fakes.get(w.targets.op)!.users.delete('OP-0');
    const mirrored = () =>
      db()
        .selectFrom('target_identities')
        .select('external_id')
        .where('account_id', '=', w.accountId)
        .where('target_id', '=', w.targets.op)
        .orderBy('external_id')
        .execute();
    expect(await mirrored()).toEqual([{ external_id: 'OP-0' }, { external_id: 'OP-1' }]);
    const { plan } = await w.signal(w.members[0]!.email);
    await w.worker().pass();
    expect(await steps(w, plan!.containment_id!)).toMatchObject([
      { target: 'op', status: 'gone', external_id: 'OP-0' },
    ]);
    expect(await mirrored()).toEqual([{ external_id: 'OP-1' }]);
  });

  it('two workers on one database never run the same step twice', async () => {
    const w = await stepWorld(shared.core, ['sc']);
    const sc = w.fakes.get(w.targets.sc)!;
    for (let i = 0; i < 12; i++) sc.fail('suspend', 'slow');
    for (const m of w.members.slice(0, 3)) await w.signal(m.email);
    const [a, b] = [w.worker('node-a'), w.worker('node-b')];
    await Promise.all([a.pass(), b.pass(), a.pass(), b.pass()]);
    await Promise.all([a.pass(), b.pass()]);
    expect(sc.log.filter((l) => l.startsWith('suspend')).sort()).toEqual([
      'suspend SC-0',
      'suspend SC-1',
      'suspend SC-2',
    ]);
    const attempts = await entries(w, 'target.attempt');
    expect(attempts.map((e) => e.details['attempt'])).toEqual([1, 1, 1]);
  });

  it('an attempt left open by a dead node is recorded as interrupted, then tried again once', async () => {
    const w = await stepWorld(shared.core, ['op']);
    const { plan } = await w.signal(w.members[1]!.email);
    const [step] = await listStepsOf(db(), w.accountId, [plan!.containment_id!]);
    // The dead node claimed it, suspended on the target, and died before recording.
    await sql`UPDATE target_steps SET attempts = 1, attempt_open = true, lease_owner = 'dead-node',
      lease_until = now() - interval '1 second' WHERE id = ${step!.id}`.execute(db());
    w.fakes.get(w.targets.op)!.users.get('OP-1')!.state = 'SUSPENDED';
    // At least this step: on a loaded machine, a step an earlier test left in the shared core may come due too.
    expect(await w.worker().pass()).toBeGreaterThanOrEqual(1);
    const attempts = (await entries(w, 'target.attempt')).map((e) => [e.details['attempt'], e.details['outcome']]);
    expect(attempts).toEqual([
      [1, 'interrupted'],
      [2, 'verified'],
    ]);
    expect((await steps(w, plan!.containment_id!))[0]).toMatchObject({ status: 'verified', attempts: 2 });
    expect(w.fakes.get(w.targets.op)!.log).toEqual(['suspend OP-1', 'read OP-1']);
    expect(await record(plan!.containment_id!)).toEqual({ targets_state: 'contained', status: 'open' });
  });
});
