/**
 * The remote side of restores, dry runs and approvals, against scripted targets (test/support/step-world.ts):
 * a restore cancels what is pending, writes reactivate steps (none on gtr: nothing to undo), reports drift
 * per target, and never reports success where a target could not verify; a dry run shows what each target
 * would do; an approved plan writes its steps, and its digest binds the set's target ids.
 */
import { sql } from 'kysely';
import { beforeAll, expect, it } from 'vitest';
import { describeBackends, useSharedCore } from '../../test/support/backends.js';
import { auditTrail, testCtx } from '../../test/support/fixtures.js';
import { stepWorld, targetError, type StepWorld } from '../../test/support/step-world.js';
import { decidePlan } from '../response/approvals.js';
import type { Approver } from '../response/approvers.js';
import { planSignal } from '../response/engine.js';
import { applyPlaybooks } from '../response/playbooks.js';
import { requestRestore } from '../response/restores.js';
import { reactivateUser } from '../directory/user-state.js';
import { newId } from '../ids.js';
import { listStepsOf } from '../store/steps.js';
import { RESOLVE_AT_EXECUTION } from './steps.js';

describeBackends('remote steps of restores, dry runs and approvals', (backend) => {
  const shared = useSharedCore(backend);
  beforeAll(async () => {
    await shared.core.stepWorker.stop();
  });
  const db = () => shared.core.database.db;
  const owner = (w: StepWorld): Approver => ({
    userId: w.owner.id,
    role: 'OWNER',
    sessionId: 'sess-owner',
    ctx: { actor: { type: 'user', id: w.owner.id }, authz: { method: 'session', session_id: 'sess-owner' } },
  });
  const record = async (id: string) =>
    (await db().selectFrom('containments').select('targets_state').where('id', '=', id).executeTakeFirst())!
      .targets_state;
  const reactivations = async (w: StepWorld, containmentId: string) =>
    (await listStepsOf(db(), w.accountId, [containmentId]))
      .filter((s) => s.operation === 'reactivate')
      .map((s) => [s.target_name, s.status, s.external_id, s.drift]);

  it('a reactivation that closes an unlocked record outside a restore undoes the remote side too', async () => {
    const w = await stepWorld(shared.core);
    const subject = w.members[0]!;
    const { plan } = await w.signal(subject.email);
    const containmentId = plan!.containment_id!;
    await w.worker().pass();
    await sql`UPDATE containments SET locked = false WHERE id = ${containmentId}`.execute(db());
    await reactivateUser(shared.core.directory, owner(w).ctx, w.accountId, subject.id, { actorRole: 'OWNER' });
    expect(await record(containmentId)).toBe('restoring');
    expect(await reactivations(w, containmentId)).toEqual([
      ['op', 'pending', 'OP-0', null],
      ['sc', 'pending', 'SC-0', null],
    ]);
    await w.worker().pass();
    expect(await record(containmentId)).toBe('restored');
    expect(w.fakes.get(w.targets.sc)!.users.get('SC-0')!.state).toBe('ACTIVE');
  });

  it('a restore writes reactivate steps (not on gtr), reports drift per target, and ends restored', async () => {
    const w = await stepWorld(shared.core);
    const { plan } = await w.signal(w.members[0]!.email);
    const containmentId = plan!.containment_id!;
    await w.worker().pass();
    // During the containment: someone reactivated her in op; the SCIM user was deleted.
    w.fakes.get(w.targets.op)!.users.get('OP-0')!.state = 'ACTIVE';
    w.fakes.get(w.targets.sc)!.users.delete('SC-0');
    const outcome = await requestRestore(shared.core.response, owner(w), w.accountId, containmentId, 'restored');
    if (outcome.status !== 'restored') throw new Error('not restored');
    expect(outcome.report.targets.items).toEqual([
      {
        target: 'gt',
        target_id: w.targets.gt,
        kind: 'gtr',
        would: 'nothing',
        reason: 'revocation only: nothing to undo',
      },
      { target: 'op', target_id: w.targets.op, kind: 'onepassword', would: 'reactivate', step_id: expect.any(String) },
      { target: 'sc', target_id: w.targets.sc, kind: 'scim', would: 'reactivate', step_id: expect.any(String) },
    ]);
    expect(await record(containmentId)).toBe('restoring');
    expect(await reactivations(w, containmentId)).toEqual([
      ['op', 'pending', 'OP-0', null],
      ['sc', 'pending', 'SC-0', null],
    ]);
    expect(await w.worker().pass()).toBe(2);
    expect(await reactivations(w, containmentId)).toEqual([
      ['op', 'verified', 'OP-0', { reactivated_elsewhere: true }],
      ['sc', 'gone', 'SC-0', { deleted: true }],
    ]);
    expect(w.fakes.get(w.targets.op)!.log.slice(2)).toEqual(['read OP-0']);
    expect(await record(containmentId)).toBe('restored');
    const trail = await auditTrail(shared.core, w.accountId);
    const restored = trail.filter((e) => e.action === 'containment.restored');
    expect(restored).toHaveLength(1);
    expect(restored[0]!.cause['plan_id']).toBe(outcome.plan.id);
    expect(trail.filter((e) => e.action === 'containment.partial')).toEqual([]);
  });

  it('a reactivation that cannot verify leaves its step failed and the record restore_partial', async () => {
    const w = await stepWorld(shared.core, ['op']);
    const { plan } = await w.signal(w.members[1]!.email);
    const containmentId = plan!.containment_id!;
    await w.worker().pass();
    w.fakes.get(w.targets.op)!.fail('reactivate', targetError('fatal', 400));
    await requestRestore(shared.core.response, owner(w), w.accountId, containmentId, 'false_positive');
    await w.worker().pass();
    expect(await reactivations(w, containmentId)).toEqual([['op', 'failed', 'OP-1', null]]);
    expect(await record(containmentId)).toBe('restore_partial');
    const trail = await auditTrail(shared.core, w.accountId);
    expect(trail.filter((e) => e.action === 'containment.restored')).toEqual([]);
    const partial = trail.filter((e) => e.action === 'containment.partial');
    expect(partial.map((e) => [e.details['operation'], e.details['targets_state']])).toEqual([
      ['reactivate', 'restore_partial'],
    ]);
    expect(w.fakes.get(w.targets.op)!.users.get('OP-1')!.state).toBe('SUSPENDED');
  });

  it('a restore cancels pending suspensions; a reactivation waits while a suspend attempt is open', async () => {
    const w = await stepWorld(shared.core, ['op', 'sc']);
    const { plan } = await w.signal(w.members[0]!.email);
    const containmentId = plan!.containment_id!;
    const suspends = await listStepsOf(db(), w.accountId, [containmentId]);
    const op = suspends.find((s) => s.target_name === 'op')!;
    // Another node holds op's suspend attempt (its lease is live); sc's never started.
    await sql`UPDATE target_steps SET attempts = 1, attempt_open = true, lease_owner = 'node-z',
      lease_until = now() + interval '1 hour' WHERE id = ${op.id}`.execute(db());
    const outcome = await requestRestore(shared.core.response, owner(w), w.accountId, containmentId, 'restored');
    if (outcome.status !== 'restored') throw new Error('not restored');
    expect(outcome.report.targets.items.map((i) => [i.target, i.would, i.reason ?? null])).toEqual([
      ['op', 'reactivate', null],
      ['sc', 'nothing', 'the suspension never reached the target: nothing to undo'],
    ]);
    const after = await listStepsOf(db(), w.accountId, [containmentId]);
    expect(after.map((s) => [s.target_name, s.operation, s.status])).toEqual([
      ['op', 'suspend', 'cancelled'],
      ['sc', 'suspend', 'cancelled'],
      ['op', 'reactivate', 'pending'],
    ]);
    expect(await w.worker().pass()).toBe(0);
    // The other node's attempt ends (its lease runs out): recorded as interrupted; then the reactivation runs.
    await sql`UPDATE target_steps SET lease_until = now() - interval '1 second' WHERE id = ${op.id}`.execute(db());
    await w.worker().pass();
    expect(await w.worker().pass()).toBe(1);
    expect(await reactivations(w, containmentId)).toEqual([['op', 'verified', 'OP-0', null]]);
    expect(await record(containmentId)).toBe('restored');
    const trail = await auditTrail(shared.core, w.accountId);
    expect(
      trail
        .filter((e) => e.action === 'target.step' && e.details['status'] === 'cancelled')
        .map((e) => e.details['target_name']),
    ).toEqual(['op', 'sc']);
  });

  it('a dry run shows per target what it would do, and writes nothing', async () => {
    const w = await stepWorld(shared.core);
    const m2 = w.members[2]!; // not in op's mirror (op is synced): nothing there
    const dry = await planSignal(shared.core.response, w.accountId, 'test', {
      external_id: 'dry',
      type: 't',
      title: 't',
      severity: 'high',
      confidence: 0.9,
      subject: { email: m2.email },
      observed_time: new Date().toISOString(),
      tags: [],
    });
    expect(dry.draft.verdicts.at(-1)).toEqual({
      step: 'execute',
      outcome: 'pass',
      reason: 'dry run: would suspend',
      details: {
        user_id: m2.id,
        targets: [
          { target: 'gt', target_id: w.targets.gt, kind: 'gtr', would: 'suspend', external_id: RESOLVE_AT_EXECUTION },
          { target: 'op', target_id: w.targets.op, kind: 'onepassword', would: 'nothing', reason: 'not on op' },
          { target: 'sc', target_id: w.targets.sc, kind: 'scim', would: 'suspend', external_id: RESOLVE_AT_EXECUTION },
        ],
      },
    });
    const n = await sql<{
      n: string;
    }>`SELECT count(*) AS n FROM target_steps WHERE account_id = ${w.accountId}`.execute(db());
    expect(Number(n.rows[0]!.n)).toBe(0);
  });

  it('an approved plan writes its steps; its digest binds the target ids, so a new target voids it', async () => {
    const w = await stepWorld(shared.core, ['op', 'cordon'], 'approval');
    const first = (await w.signal(w.members[0]!.email)).plan!;
    expect(first.status).toBe('pending_approval');
    const approved = await decidePlan(shared.core.response, owner(w), w.accountId, first.id, {
      decision: 'approve',
      reason: 'yes',
      actionDigest: first.action_digest!,
    });
    expect(approved.plan.status).toBe('executed');
    const steps = await listStepsOf(db(), w.accountId, [approved.plan.containment_id!]);
    expect(steps.map((s) => [s.target_name, s.status, s.plan_id])).toEqual([['op', 'pending', first.id]]);
    expect(await record(approved.plan.containment_id!)).toBe('in_progress');

    // Applying the playbook with every target changes the set: a plan made under `all` voids when a target is added.
    await applyPlaybooks(shared.core.response, testCtx, w.accountId, [
      { name: 'contain', match: { types: ['t'] }, action: 'suspend', mode: 'approval', targets: 'all' },
    ]);
    const second = (await w.signal(w.members[1]!.email)).plan!;
    await sql`INSERT INTO targets (account_id, id, name, kind, config, credentials, created_by)
      VALUES (${w.accountId}, ${newId()}, 'late', 'scim', '{}', 'sealed', '{}')`.execute(db());
    await expect(
      decidePlan(shared.core.response, owner(w), w.accountId, second.id, {
        decision: 'approve',
        reason: 'yes',
        actionDigest: second.action_digest!,
      }),
    ).rejects.toMatchObject({ code: 'PLAN_VOID' });
  });

  it('applying a playbook that names a target the account does not have is refused', async () => {
    const w = await stepWorld(shared.core);
    await expect(
      applyPlaybooks(shared.core.response, testCtx, w.accountId, [
        { name: 'typo', match: { types: ['t'] }, action: 'suspend', targets: ['op', 'onepasword'] },
      ]),
    ).rejects.toMatchObject({ code: 'INVALID_PLAYBOOK' });
  });
});
