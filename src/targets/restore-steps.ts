/**
 * A restore's remote side, in its transaction with the record locked: the record's pending suspend steps
 * are cancelled, and one reactivate step is written per target a suspension may have reached, except
 * where there is nothing to undo: a `gtr` target (revocation only), a target that protected the user, an
 * identity already gone, a suspension that never reached the target. A reactivation reads first, so
 * that drift shows (targets/attempt.ts), and is not claimed while a suspend attempt on the same target
 * and record is still open.
 */
import { toAuditRow, type CallContext } from '../audit/entry.js';
import type { ContainmentClosedHook } from '../directory/deps.js';
import { newId } from '../ids.js';
import { insertAuditEntries, type AuditEntryValues } from '../store/audit.js';
import type { Executor } from '../store/executor.js';
import {
  cancelPendingSuspends,
  insertSteps,
  listPlanTargets,
  listStepsOf,
  setTargetsState,
  type NewStep,
} from '../store/steps.js';
import { stepSubject, type StepSubject } from './steps.js';

/** What a restore did on one target. */
export interface RestoreTargetItem {
  target: string;
  target_id: string;
  kind: string;
  /** reactivate: a step was written; nothing: why not. */
  would: 'reactivate' | 'nothing';
  step_id?: string;
  reason?: string;
  /** The suspend step a restore cancelled (it had not ended). */
  cancelled_step_id?: string;
}

/**
 * In a restore's transaction, with the record locked: cancels the record's pending suspend steps, writes
 * the reactivate steps, and moves targets_state to restoring (or restored when nothing is left to undo).
 * Returns what it did per target and the entries to write with the restore.
 */
export async function writeRestoreSteps(
  db: Executor,
  accountId: string,
  containmentId: string,
  planId: string | null,
  ctx: CallContext,
): Promise<{ items: RestoreTargetItem[]; entries: AuditEntryValues[]; steps: number }> {
  const cancelled = await cancelPendingSuspends(db, accountId, containmentId);
  const steps = await listStepsOf(db, accountId, [containmentId]);
  const entries: AuditEntryValues[] = [];
  const items: RestoreTargetItem[] = [];
  const targets = await listPlanTargets(db, accountId);
  const now = Date.now();
  const rows: NewStep[] = [];
  for (const step of steps.filter((s) => s.operation === 'suspend')) {
    const wasCancelled = cancelled.some((c) => c.id === step.id);
    const base = { target: step.target_name, target_id: step.target_id, kind: step.kind };
    if (wasCancelled)
      entries.push(
        toAuditRow({
          accountId,
          ctx,
          action: 'target.step',
          target: { type: 'target_step', id: step.id },
          outcome: 'changed',
          details: {
            target_id: step.target_id,
            target_name: step.target_name,
            kind: step.kind,
            operation: 'suspend',
            status: 'cancelled',
            attempts: step.attempts,
            containment_id: containmentId,
          },
        }),
      );
    const why =
      step.kind === 'gtr'
        ? 'revocation only: nothing to undo'
        : step.status === 'protected'
          ? 'the target refused the suspension: nothing to undo'
          : step.status === 'gone'
            ? 'the identity was gone at the suspension: nothing to undo'
            : wasCancelled && step.attempts === 0
              ? 'the suspension never reached the target: nothing to undo'
              : undefined;
    const cancelledId = wasCancelled ? { cancelled_step_id: step.id } : {};
    if (why) {
      items.push({ ...base, would: 'nothing', reason: why, ...cancelledId });
      continue;
    }
    const target = targets.find((t) => t.id === step.target_id);
    const id = newId();
    const subject = step.subject as unknown as StepSubject;
    rows.push({
      account_id: accountId,
      id,
      containment_id: containmentId,
      plan_id: planId,
      target_id: step.target_id,
      operation: 'reactivate',
      external_id: step.external_id,
      subject: stepSubject({ user_id: subject.user_id, email: subject.email, user_name: subject.user_name }, ctx, {
        suspend_step_id: step.id,
        suspended: step.status === 'verified',
      }),
      deadline_at: new Date(now + (target?.step_deadline_seconds ?? 900) * 1000),
    });
    items.push({ ...base, would: 'reactivate', step_id: id, ...cancelledId });
  }
  await insertSteps(db, rows);
  if (steps.length > 0) {
    await setTargetsState(db, accountId, containmentId, rows.length > 0 ? 'restoring' : 'restored');
    if (rows.length === 0)
      entries.push(
        toAuditRow({
          accountId,
          ctx,
          action: 'containment.restored',
          target: { type: 'containment', id: containmentId },
          outcome: 'changed',
          details: { targets_state: 'restored', targets: items },
        }),
      );
  }
  return { items, entries, steps: rows.length };
}

/**
 * The directory's containmentClosed hook (app.ts): a record closed by a reactivation that is not a restore
 * (an app holding containments:release) is undone on its targets too; the step worker's next poll starts it.
 */
export const undoOnTargets: ContainmentClosedHook = async (db, accountId, containmentId, ctx) => {
  const remote = await writeRestoreSteps(db, accountId, containmentId, null, ctx);
  await insertAuditEntries(db, remote.entries);
};
