/**
 * Who may decide plans, and who acts when they are decided: the people (OWNERs, ADMINs, the approver
 * group; never the subject, never whoever asked) and the responder principal acting on an approved plan,
 * with the approvals in its cause.
 */
import type { CallContext } from '../audit/entry.js';
import type { SessionPrincipal } from '../auth/principal.js';
import { AppError } from '../errors.js';
import type { Database } from '../storage/schema.js';
import type { DecisionRow } from '../store/approvals.js';
import { readAutomation } from '../store/automation.js';
import type { Executor } from '../store/executor.js';
import { isMember } from '../store/groups.js';
import type { PlanRow } from '../store/plans.js';
import type { Transaction } from 'kysely';

/** Who a person is, as far as deciding plans goes. */
export interface Approver {
  userId: string;
  role: string;
  sessionId: string;
  ctx: CallContext;
}

/** The approver a signed-in person is. */
export function approverOf(human: SessionPrincipal): Approver {
  return { userId: human.session.user_id, role: human.session.user.role, sessionId: human.session.id, ctx: human.ctx };
}

/** Whether a person may see and decide pending plans at all: an OWNER, an ADMIN, or a member of the approver group. */
export async function isApprover(
  db: Executor,
  accountId: string,
  approver: Pick<Approver, 'userId' | 'role'>,
): Promise<boolean> {
  if (approver.role === 'OWNER' || approver.role === 'ADMIN') return true;
  const group = (await readAutomation(db, accountId)).approver_group_id;
  return group !== null && (await isMember(db, accountId, group, approver.userId));
}

/** Refuses a person who may not decide a plan about `subjectUserId` that `requestedBy` asked for. */
export async function assertMayDecide(
  trx: Transaction<Database>,
  accountId: string,
  approver: Approver,
  subjectUserId: string | null,
  requestedBy: { type: string; id: string; made_by?: string } | null,
): Promise<void> {
  const refuse = (why: string) =>
    new AppError('NOT_AN_APPROVER', {
      description: `not_an_approver: ${why}`,
      metadata: { reason: why.split(':')[0]! },
    });
  if (approver.userId === subjectUserId) throw refuse('subject: nobody decides a plan about themselves');
  if (requestedBy?.type === 'user' && requestedBy.id === approver.userId)
    throw refuse('requester: nobody approves what they asked for');
  // An app's request stands for the person who made it: they are its requester too.
  if (requestedBy?.type === 'app' && requestedBy.made_by === approver.userId)
    throw refuse('requester: nobody approves what their app asked for');
  if (!(await isApprover(trx, accountId, approver)))
    throw refuse('role: approvers are OWNERs, ADMINs and members of the approver group');
}

/** An approval as the executing entries carry it. */
type Approval = Pick<DecisionRow, 'approver_id' | 'created_at' | 'reason' | 'session_id'>;

function approvalsOf(decisions: Approval[]) {
  return decisions.map((d) => ({
    approver_id: d.approver_id,
    time: new Date(d.created_at).toISOString(),
    reason: d.reason,
    session_id: d.session_id,
  }));
}

/** The responder acting on an approved plan, with the whole cause. */
export function approvedContext(plan: PlanRow, decisions: Approval[]): CallContext {
  const approvals = approvalsOf(decisions);
  return {
    actor: { type: 'responder', id: 'cordon' },
    authz: {
      method: 'approved_plan',
      plan_id: plan.id,
      approved_by: approvals.map((a) => a.approver_id),
      action_digest: plan.action_digest,
    },
    cause: {
      plan_id: plan.id,
      ...(plan.signal_id ? { signal_id: plan.signal_id } : {}),
      ...(plan.playbook_name ? { playbook: plan.playbook_name, playbook_version: plan.playbook_version } : {}),
      ...(plan.containment_id ? { containment_id: plan.containment_id, restore_reason: plan.restore_reason } : {}),
      policy_version: plan.policy_version,
      requested_by: plan.requested_by,
      approvals,
    },
  };
}
