/**
 * Restores: the way back from a suspension goes through its containment record.
 *
 * - The restore policy says how many people a restore needs (default 1; 2 is the two-person rule; 0
 *   lets restore-after run unattended). A person who asks for a restore and may approve counts as the
 *   first; the rest approve the pending restore plan (response/approvals.ts).
 * - A restore reports drift between the snapshot and now, reactivates the user (closing the record),
 *   voids the subject's pending suspension plans (stale approvals), and then verifies, in the same
 *   transaction: the user is active, no session from before works, the memberships are those of now (a
 *   membership removed during the containment stays removed), no stale plan is pending. A restore that
 *   does not verify rolls back.
 * - `false_positive` also marks the signal, and frees the breaker slot the suspension used.
 */
import type { Transaction } from 'kysely';
import { toAuditRow, toJsonText, type CallContext } from '../audit/entry.js';
import { insertAuditEntries, type AuditEntryValues } from '../store/audit.js';
import { writeRestoreSteps, type RestoreTargetItem } from '../targets/restore-steps.js';
import { changeLockedUserState } from '../directory/user-state.js';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import type { Database } from '../storage/schema.js';
import { finishPlan, insertDecision, markFalsePositive, releaseSlotsOfPlan } from '../store/approvals.js';
import { lockAutomation, readAutomation, updateAutomation } from '../store/automation.js';
import {
  findContainment,
  lockContainment,
  markRestoreRequested,
  readRestoreState,
  type ContainmentRow,
} from '../store/containments.js';
import { findGroupById } from '../store/groups.js';
import { findPendingRestorePlan, findPlan, insertPlanWithEntries, type PlanRow } from '../store/plans.js';
import { approvedContext, assertMayDecide, type Approver } from './approvers.js';
import type { ResponseDeps } from './engine.js';
import { digestAction } from './plan.js';
import { voidStalePlans } from './stale-plans.js';
import { executeNhiRestore } from './nhi-restore.js';

export type RestoreReason = 'restored' | 'false_positive';

export interface RestoreReport {
  containment: ContainmentRow;
  /** Between the snapshot and now (null: a non-human identity's record, which keeps no snapshot). */
  drift: { role: { snapshot: string; now: string } | null; groups_removed: string[]; groups_added: string[] } | null;
  /**
   * A user's: active, no_session_from_before, memberships_as_now, removed_memberships_stay_removed,
   * stale_plans_void; a non-human identity's: leaked_secret_dead (response/nhi-restore.ts).
   */
  verification: Record<string, boolean>;
  voided_plans: string[];
  /** The remote side: per target, the reactivate step written (carried out after commit) or why none. */
  targets: { items: RestoreTargetItem[]; steps: number };
}

export type RestoreOutcome =
  { status: 'restored'; report: RestoreReport; plan: PlanRow } | { status: 'pending_approval'; plan: PlanRow };

/** The digest a restore's approvals are bound to: this containment, this user, this reason. */
export function restoreDigest(containment: ContainmentRow, reason: string): string {
  return digestAction({
    accountId: containment.account_id,
    subjectUserId: containment.user_id,
    action: 'restore',
    arguments: { containment_id: containment.id, opened_at: new Date(containment.opened_at).toISOString(), reason },
    playbook: null,
    policyVersion: 0,
  });
}

/** The restore-after job found the subject's row held by another transaction: it tries again on its next pass. */
export class RestoreBusy extends Error {}

/**
 * A person asks for a restore, counting as its first approval: it executes at once when that meets the
 * restore policy; otherwise a pending restore plan waits for more people.
 *
 * Lock order, everywhere: plans, then the user, then the containment record (approvals lock their plan
 * and then the subject; the Users API's :reactivate locks the user and then closes the record).
 */
export async function requestRestore(
  deps: ResponseDeps,
  approver: Approver,
  accountId: string,
  containmentId: string,
  reason: RestoreReason,
): Promise<RestoreOutcome> {
  return (await askRestore(deps, approver.ctx, approver, accountId, containmentId, reason, false))!;
}

/**
 * The restore-after job asks for a due record's restore, counting no approval, and skipping rows another
 * node holds (RestoreBusy). Undefined when the restore was already asked for.
 */
export function restoreAfter(
  deps: ResponseDeps,
  ctx: CallContext,
  containment: ContainmentRow,
): Promise<RestoreOutcome | undefined> {
  return askRestore(deps, ctx, undefined, containment.account_id, containment.id, 'restored', true);
}

async function askRestore(
  deps: ResponseDeps,
  ctx: CallContext,
  approver: Approver | undefined,
  accountId: string,
  containmentId: string,
  reason: RestoreReason,
  job: boolean,
): Promise<RestoreOutcome | undefined> {
  const outcome = await deps.audit.transact(async (trx): Promise<RestoreOutcome | undefined> => {
    const found = await findContainment(trx, accountId, containmentId);
    if (!found) throw new AppError('CONTAINMENT_NOT_FOUND', { metadata: { containment_id: containmentId } });
    if (found.status !== 'open')
      throw new AppError('CONTAINMENT_CLOSED', { metadata: { containment_id: containmentId } });
    if (approver) await assertMayDecide(trx, accountId, approver, found.user_id, null);
    const required = (await readAutomation(trx, accountId)).restore_approvals;
    const have = approver ? 1 : 0;
    if (have < required) {
      // Only the record is locked: the plan waits for people.
      const containment = await lockContainment(trx, accountId, containmentId, job);
      if (!containment) throw new RestoreBusy();
      if (containment.status !== 'open')
        throw new AppError('CONTAINMENT_CLOSED', { metadata: { containment_id: containmentId } });
      if (job && containment.restore_requested_at !== null) return undefined;
      const { plan } = await insertRestorePlan(deps, trx, ctx, approver, containment, reason, required, have);
      await markRestoreRequested(trx, accountId, containment.id);
      return { status: 'pending_approval', plan };
    }
    // Every restore is a plan, stored with who asked and the digest, whether it waits or runs at once.
    const { plan, decisions } = await insertRestorePlan(deps, trx, ctx, approver, found, reason, required, have);
    const { report, entry } = await executeRestore(deps, trx, found, approvedContext(plan, decisions), reason, job);
    const done = await finishPlan(trx, plan, 'executed', [entry], [...plan.verdicts, ...restoreVerdicts(report)]);
    return { status: 'restored', report, plan: done };
  });
  if (outcome?.status === 'restored' && outcome.report.targets.steps > 0) deps.steps?.kick();
  return outcome;
}

/**
 * An app holding `containments:release` asked to reactivate a user whose locked containment the restore
 * policy says needs two people (user-state.ts refused it with RELEASE_NEEDS_APPROVAL): its request counts
 * as the first, as a person's would, and a pending restore plan waits for a person's approval; the app's
 * maker may not give it (they stand behind the request). Asking again answers the same pending plan.
 */
export async function requestRelease(
  deps: ResponseDeps,
  ctx: CallContext,
  app: { clientId: string; makerId: string | null },
  accountId: string,
  containmentId: string,
): Promise<PlanRow> {
  return deps.audit.transact(async (trx) => {
    const containment = await lockContainment(trx, accountId, containmentId);
    if (!containment) throw new AppError('CONTAINMENT_NOT_FOUND', { metadata: { containment_id: containmentId } });
    if (containment.status !== 'open')
      throw new AppError('CONTAINMENT_CLOSED', { metadata: { containment_id: containmentId } });
    const pending = await findPendingRestorePlan(trx, accountId, containmentId);
    if (pending) return pending;
    const required = (await readAutomation(trx, accountId)).restore_approvals;
    const requestedBy = { type: 'app', id: app.clientId, ...(app.makerId ? { made_by: app.makerId } : {}) };
    const { plan } = await insertRestorePlan(
      deps,
      trx,
      ctx,
      undefined,
      containment,
      'restored',
      required,
      1,
      requestedBy,
    );
    await markRestoreRequested(trx, accountId, containment.id);
    return plan;
  });
}

async function insertRestorePlan(
  deps: ResponseDeps,
  trx: Transaction<Database>,
  ctx: CallContext,
  approver: Approver | undefined,
  containment: ContainmentRow,
  reason: RestoreReason,
  required: number,
  have: number,
  requestedBy: object = ctx.actor,
) {
  const accountId = containment.account_id;
  const digest = restoreDigest(containment, reason);
  const planValues = {
    account_id: accountId,
    id: newId(),
    signal_id: null,
    subject_user_id: containment.user_id,
    playbook_name: null,
    playbook_version: null,
    policy_version: 0,
    action: 'restore' as const,
    mode: 'approval' as const,
    // People's decisions still needed: a request by an app counts as one, as a person's does (who also
    // records a decision here); the restore-after job's counts as none.
    approvals_required: approver ? required : required - have,
    status: 'pending_approval' as const,
    action_digest: digest,
    verdicts: JSON.stringify([
      {
        step: 'approval',
        outcome: have >= required ? 'pass' : 'stop',
        reason: `the restore policy needs ${required} approval${required === 1 ? '' : 's'}`,
        details: { approvals_required: required, approvals: have },
      },
    ]),
    restore_after_seconds: null,
    held_by: [],
    executed_at: null,
    requested_by: toJsonText(requestedBy),
    expires_at: new Date(Date.now() + deps.defaults.approvalTtlSeconds * 1000),
    decided_at: null,
    lock_containment: false,
    containment_id: containment.id,
    restore_reason: reason,
    subject_nhi: containment.subject_nhi ? toJsonText(containment.subject_nhi) : null,
  };
  const entry = toAuditRow({
    accountId,
    ctx,
    action: 'containment.restore_request',
    target: { type: 'containment', id: containment.id },
    outcome: 'changed',
    details: {
      plan_id: planValues.id,
      user_id: containment.user_id,
      reason,
      approvals_required: required,
      approvals: have,
      action_digest: digest,
    },
  });
  const plan = (await insertPlanWithEntries(trx, planValues, [entry]))!;
  const decisions = approver
    ? (
        await insertDecision(trx, {
          account_id: accountId,
          plan_id: plan.id,
          approver_id: approver.userId,
          decision: 'approve',
          reason: `requested: ${reason}`,
          action_digest: digest,
          session_id: approver.sessionId,
        })
      ).decisions
    : [];
  return { plan, decisions };
}

/** The verdicts of a restore that ran. */
export function restoreVerdicts(report: RestoreReport) {
  return [
    {
      step: 'execute',
      outcome: 'pass',
      reason: 'restored',
      details: {
        containment_id: report.containment.id,
        drift: report.drift,
        ...(report.targets.items.length > 0 ? { targets: report.targets.items } : {}),
      },
    },
    { step: 'verify', outcome: 'pass', reason: 'restore verified', details: report.verification },
  ] as const;
}

/**
 * Reactivates a contained user through the record (locked by the caller) and verifies the result;
 * throws (rolling everything back) when it does not verify. The `containment.restore` entry is the
 * caller's to write, with the plan it finishes.
 */
export async function executeRestore(
  deps: ResponseDeps,
  trx: Transaction<Database>,
  record: ContainmentRow,
  ctx: CallContext,
  reason: RestoreReason,
  job = false,
): Promise<{ report: RestoreReport; entry: AuditEntryValues }> {
  if (record.subject_nhi) return executeNhiRestore(deps, trx, record, ctx, reason);
  const userId = record.user_id!;
  const accountId = record.account_id;
  // Plans, then the user, then the record (see requestRestore).
  const voided = await voidStalePlans(
    deps,
    trx,
    ctx,
    accountId,
    { subjectUserId: userId },
    'the subject was restored: approvals asked for before the restore are stale',
    { containment_id: record.id },
  );
  const before = await readRestoreState(trx, accountId, userId, { lock: job ? 'skip_locked' : 'wait' });
  if (!before) throw job ? new RestoreBusy() : new AppError('USER_NOT_FOUND', { metadata: { user_id: userId } });
  const containment = (await lockContainment(trx, accountId, record.id))!;
  if (containment.status !== 'open')
    throw new AppError('CONTAINMENT_CLOSED', { metadata: { containment_id: containment.id } });
  const snapshot = containment.snapshot;
  const drift = {
    role: snapshot.role === before.role ? null : { snapshot: snapshot.role, now: before.role },
    groups_removed: snapshot.group_ids.filter((g) => !before.group_ids.includes(g)),
    groups_added: before.group_ids.filter((g) => !snapshot.group_ids.includes(g)),
  };
  // The reactivation closes the record (in its own statement) and revives nothing: no session, no membership.
  await changeLockedUserState(deps, trx, ctx, before.user, 'ACTIVE', { restore: { reason } });
  let slotsFreed = 0;
  if (reason === 'false_positive' && containment.plan_id) {
    const plan = await findPlan(trx, accountId, containment.plan_id);
    if (plan?.signal_id) await markFalsePositive(trx, accountId, plan.signal_id);
    slotsFreed = await releaseSlotsOfPlan(trx, accountId, containment.plan_id);
  }
  // The remote side: pending suspensions cancelled, reactivations written (an outbox), in this transaction.
  const planId = typeof ctx.authz['plan_id'] === 'string' ? ctx.authz['plan_id'] : null;
  const remote = await writeRestoreSteps(trx, accountId, containment.id, planId, ctx);
  await insertAuditEntries(trx, remote.entries);
  const after = (await readRestoreState(trx, accountId, userId, { containmentId: containment.id }))!;
  const verification = {
    active: after.state === 'ACTIVE',
    no_session_from_before: after.live_sessions.length === 0,
    memberships_as_now: sameSet(after.group_ids, before.group_ids),
    removed_memberships_stay_removed: drift.groups_removed.every((g) => !after.group_ids.includes(g)),
    stale_plans_void: after.pending_suspensions === 0,
  };
  const failed = Object.entries(verification)
    .filter(([, ok]) => !ok)
    .map(([check]) => check);
  if (failed.length > 0)
    throw new AppError('RESTORE_UNVERIFIED', {
      metadata: { containment_id: containment.id, failed: failed.join(',') },
    });
  const entry = toAuditRow({
    accountId,
    ctx,
    action: 'containment.restore',
    target: { type: 'containment', id: containment.id },
    outcome: 'changed',
    details: {
      user_id: userId,
      reason,
      plan_id: containment.plan_id,
      drift,
      verification,
      voided_plans: voided,
      breaker_slots_freed: slotsFreed,
      ...(remote.items.length > 0 ? { targets: remote.items } : {}),
    },
  });
  const targets = { items: remote.items, steps: remote.steps };
  return { report: { containment: after.containment!, drift, verification, voided_plans: voided, targets }, entry };
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));

/** The account's restore policy: how many people a restore needs, and the approver group. */
export async function setRestorePolicy(
  deps: ResponseDeps,
  ctx: CallContext,
  accountId: string,
  policy: { restore_approvals: number; approver_group_id: string | null },
) {
  return deps.audit.transact(async (trx) => {
    if (policy.approver_group_id !== null && !(await findGroupById(trx, accountId, policy.approver_group_id))) {
      throw new AppError('GROUP_NOT_FOUND', { metadata: { group_id: policy.approver_group_id } });
    }
    const before = await lockAutomation(trx, accountId);
    const after = await updateAutomation(trx, accountId, policy);
    const changed =
      before.restore_approvals !== after.restore_approvals || before.approver_group_id !== after.approver_group_id;
    await deps.audit.append(trx, {
      accountId,
      ctx,
      action: 'automation.restore_policy',
      target: { type: 'account', id: accountId },
      outcome: changed ? 'changed' : 'unchanged',
      details: policy,
    });
    return after;
  });
}
