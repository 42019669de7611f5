/**
 * Approvals: only people decide a pending plan (a suspension the guards held, or a restore), each
 * decision bound to the digest of the exact action the person saw.
 *
 * - The approver holds OWNER or ADMIN, or is in the account's approver group, and is neither the
 *   subject nor whoever asked for the plan. One decision per person per plan (the table's key), so N
 *   approvals are N distinct people.
 * - A plan waits CORDON_APPROVAL_TTL_SECONDS; then it expires with its approvals (audited).
 * - The digest is recomputed from what the plan stands on now (the playbook's latest version, the
 *   policy's, the containment): if it no longer matches, the plan is void and nobody can approve it.
 * - The decision that completes the approvals executes the plan in its own transaction, so an approval
 *   is used exactly once: the plan is final afterwards.
 */
import { sql, type Transaction } from 'kysely';
import type { AuditAction } from '../audit/actions.js';
import { toAuditRow, type CallContext } from '../audit/entry.js';
import { changeLockedUserState } from '../directory/user-state.js';
import { AppError, isAppError } from '../errors.js';
import type { Database, PlanStatus } from '../storage/schema.js';
import {
  finishPlan,
  insertDecision,
  listDecisions,
  lockPlan,
  lockSubject,
  type DecisionRow,
} from '../store/approvals.js';
import { findContainment } from '../store/containments.js';
import { insertAuditEntries, type AuditEntryValues } from '../store/audit.js';
import { readDigestInputs } from '../store/playbooks.js';
import type { PlanRow } from '../store/plans.js';
import { readStateAndLiveSessions } from '../store/users.js';
import type { ResponseDeps } from './engine.js';
import { digestAction, suspendArguments, type Verdict } from './plan.js';
import { executeApprovedNhi } from './nhi.js';
import { currentPlaybook } from './playbooks.js';
import { protectionReasons, type ProtectionPolicy } from './protection-policy.js';
import { approvedContext, assertMayDecide, type Approver } from './approvers.js';
import { executeRestore, restoreDigest, restoreVerdicts } from './restores.js';
import { suspendRemote, targetSetIds } from '../targets/steps.js';

export interface DecisionInput {
  decision: 'approve' | 'deny';
  reason: string;
  /** The digest of the action the person saw (GET …/plans/{id}); it must be the plan's. */
  actionDigest: string;
}

export interface DecisionResult {
  plan: PlanRow;
  decisions: DecisionRow[];
}

/** Approves or denies a pending plan; the approval that completes it executes it. */
export async function decidePlan(
  deps: ResponseDeps,
  approver: Approver,
  accountId: string,
  planId: string,
  input: DecisionInput,
): Promise<DecisionResult> {
  // A plan found expired or void is marked so, audited, and committed; then the decision is refused.
  let refusal: AppError | undefined;
  let wroteSteps = 0;
  const result = await deps.audit.transact(async (trx) => {
    const plan = await lockPlan(trx, accountId, planId);
    if (!plan) throw new AppError('PLAN_NOT_FOUND', { metadata: { plan_id: planId } });
    if (plan.status !== 'pending_approval')
      throw new AppError('PLAN_NOT_PENDING', { metadata: { plan_id: planId, status: plan.status } });
    const standing = await checkStanding(trx, plan, approver.ctx);
    if ('ended' in standing) {
      refusal = new AppError(standing.ended.status === 'expired' ? 'PLAN_EXPIRED' : 'PLAN_VOID', {
        metadata: { plan_id: planId },
      });
      return { plan: standing.ended, decisions: await listDecisions(trx, accountId, planId) };
    }
    await assertMayDecide(trx, accountId, approver, plan.subject_user_id, plan.requested_by);
    if (input.actionDigest !== plan.action_digest)
      throw new AppError('DIGEST_MISMATCH', { metadata: { plan_id: planId } });
    // A restore plan's containment is read without its lock above (the lock order puts the record last):
    // if another restore closes it meanwhile, this decision comes back here and the plan ends void.
    if (plan.action === 'restore') await sql`SAVEPOINT decision`.execute(trx);
    const { recorded, decisions } = await insertDecision(trx, {
      account_id: accountId,
      plan_id: planId,
      approver_id: approver.userId,
      decision: input.decision,
      reason: input.reason,
      action_digest: input.actionDigest,
      session_id: approver.sessionId,
    });
    if (!recorded)
      throw new AppError('NOT_AN_APPROVER', {
        description: 'not_an_approver: you already decided this plan; a second approval must come from another person',
        metadata: { reason: 'already_decided' },
      });
    const approvals = decisions.filter((d) => d.decision === 'approve');
    const entry = (action: AuditAction, status: PlanStatus) =>
      toAuditRow({
        accountId,
        ctx: approver.ctx,
        action,
        target: { type: 'plan', id: planId },
        outcome: 'changed',
        details: {
          reason: input.reason,
          action_digest: input.actionDigest,
          subject_user_id: plan.subject_user_id,
          plan_action: plan.action,
          approvals: approvals.length,
          approvals_required: plan.approvals_required,
          plan_status: status,
        },
      });
    if (input.decision === 'deny')
      return { plan: await finishPlan(trx, plan, 'denied', [entry('plan.deny', 'denied')]), decisions };
    if (approvals.length < plan.approvals_required) {
      await insertAuditEntries(trx, [entry('plan.approve', plan.status)]);
      return { plan, decisions };
    }
    let executed;
    try {
      executed = await executeApproved(deps, trx, plan, approvals, standing.policy);
    } catch (error) {
      if (plan.action !== 'restore' || !isAppError(error) || error.code !== 'CONTAINMENT_CLOSED') throw error;
      await sql`ROLLBACK TO SAVEPOINT decision`.execute(trx);
      refusal = new AppError('PLAN_VOID', { metadata: { plan_id: planId } });
      return {
        plan: await endPlan(trx, plan, 'void', approver.ctx),
        decisions: await listDecisions(trx, accountId, planId),
      };
    }
    const { status, verdicts, entries = [], containmentId, steps = 0 } = executed;
    wroteSteps = steps;
    return {
      plan: await finishPlan(
        trx,
        plan,
        status,
        [entry('plan.approve', status), ...entries],
        [...(plan.verdicts as Verdict[]), ...verdicts],
        containmentId,
      ),
      decisions,
    };
  });
  if (refusal) throw refusal;
  if (wroteSteps > 0) deps.steps?.kick();
  return result;
}

/**
 * Whether a pending plan still stands: ended (and audited) as expired when its time ran out, or as void
 * when its digest no longer matches what it stands on; otherwise the policy it is decided under.
 */
async function checkStanding(
  trx: Transaction<Database>,
  plan: PlanRow,
  ctx: CallContext,
): Promise<{ ended: PlanRow } | { policy: ProtectionPolicy }> {
  if (plan.expires_at !== null && new Date(plan.expires_at).getTime() <= Date.now())
    return { ended: await endPlan(trx, plan, 'expired', ctx) };
  const { digest, policy } = await currentDigest(trx, plan);
  if (digest !== plan.action_digest) return { ended: await endPlan(trx, plan, 'void', ctx) };
  return { policy };
}

const ENDINGS = {
  expired: ['plan.expire', 'no decision within the approval time'],
  void: ['plan.void', 'the playbook, policy or containment changed since the plan was made'],
} as const;

/** Ends a pending plan as expired or void, with its entry. */
export function endPlan(
  trx: Transaction<Database>,
  plan: PlanRow,
  status: keyof typeof ENDINGS,
  ctx: CallContext,
): Promise<PlanRow> {
  const [action, reason] = ENDINGS[status];
  return finishPlan(trx, plan, status, [
    toAuditRow({
      accountId: plan.account_id,
      ctx,
      action,
      target: { type: 'plan', id: plan.id },
      outcome: 'changed',
      details: { reason, subject_user_id: plan.subject_user_id, plan_action: plan.action },
    }),
  ]);
}

/** The digest of the plan's action as it would be made now, and the policy it would be under. */
async function currentDigest(
  trx: Transaction<Database>,
  plan: PlanRow,
): Promise<{ digest: string | null; policy: ProtectionPolicy }> {
  const inputs = await readDigestInputs(trx, plan.account_id, plan.playbook_name);
  const policy: ProtectionPolicy = inputs.policy
    ? { version: inputs.policy.version, document: inputs.policy.document }
    : { version: 0, document: {} };
  if (plan.action === 'restore') {
    // The record the restore is for, still open (a user's, or a non-human identity's, which has no user).
    const record = await findContainment(trx, plan.account_id, plan.containment_id!);
    return { digest: record?.status === 'open' ? restoreDigest(record, plan.restore_reason!) : null, policy };
  }
  const playbook = currentPlaybook(inputs.playbook ?? undefined, plan.playbook_name);
  if (!playbook?.enabled) return { digest: null, policy };
  const digest = digestAction({
    accountId: plan.account_id,
    subjectUserId: plan.subject_user_id,
    subjectNhi: plan.subject_nhi,
    action: playbook.action,
    arguments: plan.subject_nhi
      ? {}
      : suspendArguments(playbook, await targetSetIds(trx, plan.account_id, playbook.targets)),
    playbook: { name: playbook.name, version: playbook.version, contentHash: playbook.contentHash },
    policyVersion: policy.version,
  });
  return { digest, policy };
}

type Executed = { status: PlanStatus; verdicts: Verdict[]; entries?: AuditEntryValues[] } & {
  containmentId?: string | null;
  /** Remote steps written (the worker is kicked after commit). */
  steps?: number;
};

/** Carries out a plan whose approvals are complete; the verdicts say what happened. */
async function executeApproved(
  deps: ResponseDeps,
  trx: Transaction<Database>,
  plan: PlanRow,
  approvals: DecisionRow[],
  policy: ProtectionPolicy,
): Promise<Executed> {
  const approved: Verdict = {
    step: 'approval',
    outcome: 'pass',
    reason: `approved by ${approvals.length}`,
    details: { approvers: approvals.map((a) => a.approver_id) },
  };
  const ctx = approvedContext(plan, approvals);
  if (plan.action === 'restore') {
    const containment = (await findContainment(trx, plan.account_id, plan.containment_id!))!;
    const { report, entry } = await executeRestore(
      deps,
      trx,
      containment,
      ctx,
      plan.restore_reason === 'false_positive' ? 'false_positive' : 'restored',
    );
    const { steps } = report.targets;
    return { status: 'executed', verdicts: [approved, ...restoreVerdicts(report)], entries: [entry], steps };
  }
  if (plan.subject_nhi) return executeApprovedNhi(deps, trx, plan, ctx, approved);
  const stop = (status: PlanStatus, reason: string, details?: Record<string, unknown>) => ({
    status,
    verdicts: [
      approved,
      { step: 'execute' as const, outcome: 'stop' as const, reason, ...(details ? { details } : {}) },
    ],
  });
  const subject = await lockSubject(trx, plan.account_id, plan.subject_user_id!);
  if (!subject) return stop('failed', 'the subject no longer exists');
  const { groups, other_active_owners, ...user } = subject;
  if (user.state === 'SUSPENDED') return stop('no_action', 'the subject is already suspended');
  // The subject's standing may have changed while the plan waited: protection is decided again, now.
  const reasons = protectionReasons(policy.document, user, groups, user.role === 'OWNER' && other_active_owners === 0);
  if (reasons.length > 0)
    return stop('refused', `the subject is protected (${reasons.join(', ')}): would have suspended`, { reasons });
  const result = await changeLockedUserState(deps, trx, ctx, user, 'SUSPENDED', {
    containment: { planId: plan.id, locked: plan.lock_containment, restoreAfterSeconds: plan.restore_after_seconds },
  });
  const now = await readStateAndLiveSessions(trx, plan.account_id, user.id);
  // A suspension that did not take is not recorded as one: everything rolls back.
  if (now?.state !== 'SUSPENDED' || now.live_sessions !== 0)
    throw new Error(`plan ${plan.id}: the approved suspension did not take`);
  const remote = await suspendRemote(trx, plan, result.containmentId!, { user_id: user.id, email: user.email }, ctx);
  return {
    status: 'executed',
    containmentId: result.containmentId,
    steps: remote.written,
    verdicts: [
      approved,
      {
        step: 'execute',
        outcome: 'pass',
        reason: 'suspended',
        details: {
          user_id: user.id,
          sessions_revoked: result.sessionsRevoked.length,
          containment_id: result.containmentId,
          ...(remote.items.length > 0 ? { targets: remote.items } : {}),
        },
      },
      { step: 'verify', outcome: 'pass', reason: 'suspended, no live session' },
    ],
  };
}
