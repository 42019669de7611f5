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
import { isInApproverGroup } from '../store/automation.js';
import type { Executor } from '../store/executor.js';
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

/** Whether a role makes its holder an approver whatever the groups: OWNER and ADMIN. */
export function approverByRole(role: string): boolean {
  return role === 'OWNER' || role === 'ADMIN';
}

/** Whether a person may see and decide pending plans at all: an OWNER, an ADMIN, or a member of the approver group. */
export async function isApprover(
  db: Executor,
  accountId: string,
  approver: Pick<Approver, 'userId' | 'role'>,
): Promise<boolean> {
  return approverByRole(approver.role) || isInApproverGroup(db, accountId, approver.userId);
}

export const ROLE_REFUSAL = 'role: approvers are OWNERs, ADMINs and members of the approver group';

/**
 * Why a person may not decide a plan about `subjectUserId` that `requestedBy` asked for, as far as who
 * they are says (the subject, the requester, the maker of the requesting app); undefined when nothing
 * does. Read-only: the console hides the buttons of a person this refuses.
 */
export function identityRefusal(
  approverId: string,
  subjectUserId: string | null,
  requestedBy: { type: string; id: string; made_by?: string } | null,
): string | undefined {
  if (approverId === subjectUserId) return 'subject: nobody decides a plan about themselves';
  if (requestedBy?.type === 'user' && requestedBy.id === approverId)
    return 'requester: nobody approves what they asked for';
  // An app's request stands for the person who made it: they are its requester too.
  if (requestedBy?.type === 'app' && requestedBy.made_by === approverId)
    return 'requester: nobody approves what their app asked for';
  return undefined;
}

/** Refuses a person who may not decide a plan about `subjectUserId` that `requestedBy` asked for. */
export async function assertMayDecide(
  trx: Transaction<Database>,
  accountId: string,
  approver: Approver,
  subjectUserId: string | null,
  requestedBy: { type: string; id: string; made_by?: string } | null,
): Promise<void> {
  const why =
    identityRefusal(approver.userId, subjectUserId, requestedBy) ??
    ((await isApprover(trx, accountId, approver)) ? undefined : ROLE_REFUSAL);
  if (why !== undefined)
    throw new AppError('NOT_AN_APPROVER', {
      description: `not_an_approver: ${why}`,
      metadata: { reason: why.split(':')[0]! },
    });
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
