/**
 * What a step's attempt leaves behind, in one transaction: its `target.attempt` entry and the step's new
 * state; when the step ended, its `target.step` entry and the record's targets_state:
 *
 * - suspend steps: `in_progress` → `contained` once every one verified (or is gone), with a
 *   `containment.contained` entry; `partial` as soon as one ends failed or protected, with a
 *   `containment.partial` entry naming every step that did;
 * - reactivate steps: `restoring` → `restored` (`containment.restored`) or `restore_partial`
 *   (`containment.partial`): a restore that cannot verify on a target is never reported as a success.
 *
 * The plan that decided the steps gets a `targets` verdict saying where they stand. The record is locked
 * first (a restore locks it before it cancels steps: the same order).
 */
import type { Transaction } from 'kysely';
import type { AuditEntryInput, CallContext } from '../audit/entry.js';
import type { AuditLog } from '../audit/log.js';
import type { Database, StepStatus, TargetsState } from '../storage/schema.js';
import {
  failExpired,
  finishAttempt,
  listStepsOf,
  lockRecord,
  setTargetsState,
  setTargetsVerdict,
  type ClaimedStep,
  type StepUpdate,
  type StepWithTarget,
} from '../store/steps.js';
import { deleteIdentity } from '../store/targets.js';
import type { AttemptResult } from './attempt.js';

type LockedRecord = NonNullable<Awaited<ReturnType<typeof lockRecord>>>;

/** The responder, acting for the plan (or restore) that decided the step, with its cause. */
export function stepContext(step: Pick<ClaimedStep, 'subject'>): CallContext {
  const subject = step.subject as { authz?: Record<string, unknown>; cause?: Record<string, unknown> };
  return { actor: { type: 'responder', id: 'cordon' }, authz: subject.authz ?? {}, cause: subject.cause ?? {} };
}

const about = (step: ClaimedStep | StepWithTarget) => ({
  target_id: step.target_id,
  target_name: step.target_name,
  kind: step.kind,
  operation: step.operation,
  containment_id: step.containment_id,
});

/** The entry of an attempt left open by a node that died (its lease ran out before it recorded). */
export function interruptedEntry(step: ClaimedStep): AuditEntryInput {
  return {
    accountId: step.account_id,
    ctx: stepContext(step),
    action: 'target.attempt',
    target: { type: 'target_step', id: step.id },
    outcome: 'unchanged',
    details: {
      ...about(step),
      attempt: step.status === 'pending' && !step.expired ? step.attempts - 1 : step.attempts,
      external_id: step.external_id,
      calls: [],
      outcome: 'interrupted',
      error: {
        message: `the attempt's lease (${step.interrupted_owner ?? '?'}) ran out before its outcome was recorded`,
      },
      latency_ms: null,
      observed_state: null,
    },
  };
}

const STEP_OUTCOME: Record<StepStatus, AuditEntryInput['outcome']> = {
  verified: 'changed',
  gone: 'changed',
  cancelled: 'changed',
  protected: 'refused',
  failed: 'unchanged',
  pending: 'unchanged',
};

/** Records an attempt; false when this node no longer held the step (nothing recorded). */
export async function recordAttempt(
  audit: AuditLog,
  step: ClaimedStep,
  owner: string,
  result: AttemptResult,
  nextAttemptAt: Date | null,
): Promise<boolean> {
  return audit.transact(async (trx) => {
    const record = (await lockRecord(trx, step.account_id, step.containment_id))!;
    const update: StepUpdate = {
      status: result.status,
      external_id: result.external_id,
      observed_state: result.observed_state,
      drift: result.drift,
      last_error: result.error,
      next_attempt_at: nextAttemptAt,
    };
    const done = await finishAttempt(trx, step, owner, update);
    if (!done) return false;
    // The target says the identity is gone (404): the mirror forgets it now, not at the next full sync.
    if (result.status === 'gone' && result.external_id)
      await deleteIdentity(trx, step.account_id, step.target_id, result.external_id);
    const ctx = stepContext(step);
    await audit.append(trx, {
      accountId: step.account_id,
      ctx,
      action: 'target.attempt',
      target: { type: 'target_step', id: step.id },
      outcome: result.outcome === 'verified' ? 'changed' : result.outcome === 'protected' ? 'refused' : 'unchanged',
      details: {
        ...about(step),
        attempt: step.attempts,
        external_id: result.external_id,
        calls: result.calls,
        outcome: result.outcome,
        error: result.error,
        latency_ms: result.latency_ms,
        observed_state: result.observed_state,
        ...(result.drift ? { drift: result.drift } : {}),
        ...(nextAttemptAt && result.status === 'pending' ? { next_attempt_time: nextAttemptAt.toISOString() } : {}),
      },
    });
    // A step a restore cancelled meanwhile keeps its status: only its attempt is recorded.
    if (done.was === 'pending' && done.status !== 'pending') await stepEnded(trx, audit, record, step, ctx);
    return true;
  });
}

/** Ends a step past its deadline (no call is made): failed. */
export async function recordExpired(audit: AuditLog, step: ClaimedStep, owner: string): Promise<void> {
  await audit.transact(async (trx) => {
    const record = (await lockRecord(trx, step.account_id, step.containment_id))!;
    if (await failExpired(trx, step, owner)) await stepEnded(trx, audit, record, step, stepContext(step));
  });
}

/**
 * The `target.step` entry of a step that just ended, and what it changes of the record's targets_state;
 * `record` is the containment as the caller locked it, in this transaction.
 */
async function stepEnded(
  trx: Transaction<Database>,
  audit: AuditLog,
  record: LockedRecord,
  claimed: ClaimedStep,
  ctx: CallContext,
): Promise<void> {
  const steps = await listStepsOf(trx, claimed.account_id, [claimed.containment_id]);
  const step = steps.find((s) => s.id === claimed.id)!;
  await audit.append(trx, {
    accountId: step.account_id,
    ctx,
    action: 'target.step',
    target: { type: 'target_step', id: step.id },
    outcome: STEP_OUTCOME[step.status],
    details: {
      ...about(step),
      status: step.status,
      attempts: step.attempts,
      external_id: step.external_id,
      observed_state: step.observed_state,
      drift: step.drift,
      last_error: step.last_error,
    },
  });
  const suspending = record.targets_state === 'in_progress' || record.targets_state === 'partial';
  const restoring = record.targets_state === 'restoring' || record.targets_state === 'restore_partial';
  if ((step.operation === 'suspend' && !suspending) || (step.operation === 'reactivate' && !restoring)) return;
  const phase = steps.filter((s) => s.operation === step.operation && s.status !== 'cancelled');
  const bad = phase.filter((s) => s.status === 'failed' || s.status === 'protected');
  const pending = phase.filter((s) => s.status === 'pending');
  const summary = phase.map((s) => ({
    target: s.target_name,
    target_id: s.target_id,
    step_id: s.id,
    status: s.status,
  }));
  const suspend = step.operation === 'suspend';
  let state: TargetsState | undefined;
  const entries: AuditEntryInput[] = [];
  const target = { type: 'containment' as const, id: record.id };
  if (step.status === 'failed' || step.status === 'protected') {
    state = suspend ? 'partial' : 'restore_partial';
    entries.push({
      accountId: step.account_id,
      ctx,
      action: 'containment.partial',
      target,
      outcome: 'changed',
      details: {
        operation: step.operation,
        targets_state: state,
        failed: bad.map((s) => ({ target: s.target_name, target_id: s.target_id, step_id: s.id, status: s.status })),
        pending: pending.length,
      },
    });
  } else if (pending.length === 0 && bad.length === 0) {
    state = suspend ? 'contained' : 'restored';
    entries.push({
      accountId: step.account_id,
      ctx,
      action: suspend ? 'containment.contained' : 'containment.restored',
      target,
      outcome: 'changed',
      details: { targets_state: state, steps: summary },
    });
  }
  if (state && state !== record.targets_state) await setTargetsState(trx, step.account_id, record.id, state);
  if (entries.length > 0) await audit.append(trx, entries);
  const now = state ?? record.targets_state!;
  if (step.plan_id)
    await setTargetsVerdict(trx, step.account_id, step.plan_id, {
      step: 'targets',
      outcome: bad.length > 0 ? 'stop' : 'pass',
      reason:
        bad.length > 0
          ? `${now}: ${bad.map((s) => `${s.status} on ${s.target_name}`).join(', ')}`
          : pending.length > 0
            ? `${now}: ${pending.length} step(s) pending`
            : `${now} on every target`,
      details: { targets_state: now, steps: summary },
    });
}
