/**
 * How a containment's remote steps are shown: the containment view (targets_state and steps), `explain`
 * (each target's attempts with the audit index of their entries) and what `cordon explain` prints; and a
 * target's max_concurrency holding on one node.
 */
import { sql } from 'kysely';
import { beforeAll, expect, it } from 'vitest';
import { describeBackends, useSharedCore } from '../../test/support/backends.js';
import { stepWorld, targetError } from '../../test/support/step-world.js';
import { printTargets } from '../cli/steps.js';
import { containmentView } from '../http/views/containments.js';
import { explanationView } from '../http/views/explain.js';
import { explain } from '../response/explain.js';
import { findContainment } from '../store/containments.js';
import { listStepsOf } from '../store/steps.js';

describeBackends('remote steps as shown', (backend) => {
  const shared = useSharedCore(backend);
  beforeAll(async () => {
    await shared.core.stepWorker.stop();
  });
  const db = () => shared.core.database.db;

  it('the containment view and explain show each step, and each attempt with its audit index', async () => {
    const w = await stepWorld(shared.core, ['op']);
    w.fakes.get(w.targets.op)!.fail('suspend', targetError('retry', 503));
    const { plan } = await w.signal(w.members[0]!.email);
    const containmentId = plan!.containment_id!;
    await w.worker().pass();
    await sql`UPDATE target_steps SET next_attempt_at = now() WHERE account_id = ${w.accountId}`.execute(db());
    await w.worker().pass();
    const record = (await findContainment(db(), w.accountId, containmentId))!;
    const view = containmentView(record, await listStepsOf(db(), w.accountId, [containmentId]));
    expect(view.targets_state).toBe('contained');
    expect(view.steps).toEqual([
      {
        id: expect.any(String) as string,
        target_id: w.targets.op,
        target_name: 'op',
        kind: 'onepassword',
        operation: 'suspend',
        status: 'verified',
        external_id: 'OP-0',
        attempts: 2,
        observed_state: 'SUSPENDED',
        drift: null,
        last_error: null,
        create_time: expect.any(String) as string,
        finish_time: expect.any(String) as string,
      },
    ]);

    await shared.core.audit.settle();
    await shared.core.audit.sequencer.drain();
    const chain = explanationView(
      await explain({ db: db(), checkpointKey: shared.core.checkpointKey }, w.accountId, containmentId),
    );
    expect(chain.outcome.containment).toMatchObject({ id: containmentId, targets_state: 'contained' });
    expect(chain.targets).toHaveLength(1);
    const [target] = chain.targets;
    expect(target).toMatchObject({ target_id: w.targets.op, name: 'op', kind: 'onepassword' });
    const attempts = target!.steps[0]!.attempts;
    expect(attempts.map((a) => [a.attempt, a.outcome, a.status])).toEqual([
      [1, 'retry', 503],
      [2, 'verified', 200],
    ]);
    // Each index is the numbered target.attempt entry of that attempt.
    for (const a of attempts) {
      const entry = await db()
        .selectFrom('audit_entries')
        .select(['action', 'target_id', 'details'])
        .where('account_id', '=', w.accountId)
        .where('idx', '=', a.index!)
        .executeTakeFirstOrThrow();
      expect([entry.action, entry.target_id, (entry.details as { attempt: number }).attempt]).toEqual([
        'target.attempt',
        view.steps[0]!.id,
        a.attempt,
      ]);
    }

    const lines: string[] = [];
    printTargets((label, text) => lines.push(`${label.padEnd(11)}${text}`), chain);
    expect(lines).toEqual([
      'targets    contained',
      `  target   op (onepassword): suspend verified, step ${view.steps[0]!.id}`,
      `  attempt  1 retry HTTP 503 ${attempts[0]!.latency_ms} ms, audit #${attempts[0]!.index}`,
      `  attempt  2 verified HTTP 200 ${attempts[1]!.latency_ms} ms, audit #${attempts[1]!.index}`,
    ]);
  });

  it('holds a target to its max_concurrency on one node', async () => {
    const w = await stepWorld(shared.core, ['sc']);
    await sql`UPDATE targets SET max_concurrency = 1 WHERE id = ${w.targets.sc}`.execute(db());
    const sc = w.fakes.get(w.targets.sc)!;
    for (let i = 0; i < 3; i++) sc.fail('suspend', 'slow');
    for (const m of w.members.slice(0, 3)) await w.signal(m.email);
    const worker = w.worker();
    // One claim takes one step of sc; each further pass the next one.
    expect(await worker.pass()).toBe(1);
    expect(await worker.pass()).toBe(1);
    expect(await worker.pass()).toBe(1);
    expect(await worker.pass()).toBe(0);
  });

  it('a worker started as a service is kicked by the commit that wrote steps, and stops cleanly', async () => {
    const w = await stepWorld(shared.core, ['op']);
    const worker = w.worker();
    const before = shared.core.response.steps;
    worker.start();
    shared.core.response.steps = worker;
    try {
      const { plan } = await w.signal(w.members[1]!.email);
      const state = async () => (await findContainment(db(), w.accountId, plan!.containment_id!))!.targets_state;
      for (let i = 0; i < 200 && (await state()) !== 'contained'; i++)
        await new Promise((resolve) => setTimeout(resolve, 25));
      expect(await state()).toBe('contained');
    } finally {
      shared.core.response.steps = before;
      await worker.stop();
    }
    expect(w.fakes.get(w.targets.op)!.log).toEqual(['suspend OP-1', 'read OP-1']);
  });
});
