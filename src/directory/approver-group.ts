/**
 * The approver group is a security control, not just a group: its members decide plans and restores,
 * so a second approver is a second person only if nobody else can make or take over one. An ADMIN could
 * otherwise add a MEMBER whose credentials they just reset, and approve as two people alone. So only an
 * OWNER (or the operator) changes who is in it, or resets a member's credentials.
 */
import { AppError } from '../errors.js';
import type { UserRole } from '../storage/schema.js';
import { readAutomation } from '../store/automation.js';
import type { Executor } from '../store/executor.js';
import { findGroupById, isMember } from '../store/groups.js';

function ownersOnly(what: string): AppError {
  return new AppError('PERMISSION_DENIED', {
    description: `only an OWNER may ${what}: its members approve plans and restores`,
    metadata: { constraint: 'approver_group' },
  });
}

/** Refuses a non-OWNER person changing the approver group's members (by group id or, at creation, by name). */
export async function assertMayChangeApprovers(
  db: Executor,
  accountId: string,
  actorRole: UserRole | undefined,
  group: { id?: string; names?: string[] },
): Promise<void> {
  if (actorRole === undefined || actorRole === 'OWNER') return;
  const approvers = (await readAutomation(db, accountId)).approver_group_id;
  if (approvers === null) return;
  if (group.id === approvers) throw ownersOnly("change the approver group's members");
  if (group.names && group.names.length > 0) {
    const name = (await findGroupById(db, accountId, approvers))?.name.toLowerCase();
    if (name !== undefined && group.names.some((n) => n.trim().toLowerCase() === name))
      throw ownersOnly("change the approver group's members");
  }
}

/** Refuses a non-OWNER person taking over an approver's credentials. */
export async function assertMayResetApprover(
  db: Executor,
  accountId: string,
  actorRole: UserRole | undefined,
  userId: string,
): Promise<void> {
  if (actorRole === undefined || actorRole === 'OWNER') return;
  const approvers = (await readAutomation(db, accountId)).approver_group_id;
  if (approvers !== null && (await isMember(db, accountId, approvers, userId)))
    throw ownersOnly('reset the credentials of a member of the approver group');
}
