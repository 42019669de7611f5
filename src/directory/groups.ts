import type { CallContext } from '../audit/entry.js';
import { AppError } from '../errors.js';
import { isUniqueViolation } from '../store/errors.js';
import { newId } from '../ids.js';
import type { Group, UserRole } from '../storage/schema.js';
import {
  countPrivilegedMembers,
  deleteGroupRow,
  deleteMembership,
  findGroupById,
  findGroupsByName,
  insertGroups,
  insertMemberships,
  listMemberIds,
} from '../store/groups.js';
import { lockUserById } from '../store/users.js';
import type { DirectoryDeps } from './deps.js';
import { assertMayChangeApprovers } from './approver-group.js';
import { assertMayManage } from './user-admin.js';
import { assertAccountExists } from './users.js';

export async function createGroup(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  name: string,
): Promise<Group> {
  const trimmed = name.trim();
  if (trimmed.length === 0 || trimmed.length > 100)
    throw new AppError('INVALID_ARGUMENT', { description: 'name: expected 1 to 100 characters' });
  return deps.audit
    .transact(async (trx) => {
      await assertAccountExists({ db: trx }, accountId);
      if ((await findGroupsByName(trx, accountId, [trimmed])).length > 0) {
        throw new AppError('ALREADY_EXISTS', { description: 'a group with this name already exists' });
      }
      const [group] = await insertGroups(trx, [{ account_id: accountId, id: newId(), name: trimmed }]);
      await deps.audit.append(trx, {
        accountId,
        ctx,
        action: 'group.create',
        target: { type: 'group', id: group!.id },
        outcome: 'changed',
        details: { name: trimmed },
      });
      return group!;
    })
    .catch((error: unknown) => {
      if (isUniqueViolation(error, 'groups_name_key'))
        throw new AppError('ALREADY_EXISTS', { description: 'a group with this name already exists', cause: error });
      throw error;
    });
}

/** Adds a user to a group; returns false (and records `unchanged`) when already a member. */
export async function addMember(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  groupId: string,
  userId: string,
  actorRole?: UserRole,
): Promise<boolean> {
  return deps.audit.transact(async (trx) => {
    if (!(await findGroupById(trx, accountId, groupId))) throw new AppError('GROUP_NOT_FOUND');
    const user = await lockUserById(trx, accountId, userId, 'share');
    if (!user) throw new AppError('USER_NOT_FOUND');
    // Groups decide what constrained apps may act on: an ADMIN moves MEMBERs only.
    assertMayManage(actorRole, user.role, 'change the groups of');
    await assertMayChangeApprovers(trx, accountId, actorRole, { id: groupId });
    const added =
      (await insertMemberships(trx, [{ account_id: accountId, group_id: groupId, user_id: userId }])).length > 0;
    await deps.audit.append(trx, {
      accountId,
      ctx,
      action: 'membership.add',
      target: { type: 'user', id: userId },
      outcome: added ? 'changed' : 'unchanged',
      details: { group_id: groupId },
    });
    return added;
  });
}

export async function removeMember(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  groupId: string,
  userId: string,
  actorRole?: UserRole,
): Promise<boolean> {
  return deps.audit.transact(async (trx) => {
    if (!(await findGroupById(trx, accountId, groupId))) throw new AppError('GROUP_NOT_FOUND');
    const user = await lockUserById(trx, accountId, userId, 'share');
    if (user) assertMayManage(actorRole, user.role, 'change the groups of');
    await assertMayChangeApprovers(trx, accountId, actorRole, { id: groupId });
    const removed = await deleteMembership(trx, accountId, groupId, userId);
    await deps.audit.append(trx, {
      accountId,
      ctx,
      action: 'membership.remove',
      target: { type: 'user', id: userId },
      outcome: removed ? 'changed' : 'unchanged',
      details: { group_id: groupId },
    });
    return removed;
  });
}

/** Deletes a group and its memberships; the audit entry keeps its name and members. */
export async function deleteGroup(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  groupId: string,
  actorRole?: UserRole,
): Promise<Group> {
  return deps.audit.transact(async (trx) => {
    if (
      actorRole !== undefined &&
      actorRole !== 'OWNER' &&
      (await countPrivilegedMembers(trx, accountId, groupId)) > 0
    ) {
      throw new AppError('PERMISSION_DENIED', {
        description: 'only an OWNER may delete a group with ADMIN or OWNER members',
      });
    }
    const members = await listMemberIds(trx, accountId, groupId);
    const group = await deleteGroupRow(trx, accountId, groupId);
    if (!group) throw new AppError('GROUP_NOT_FOUND', { metadata: { group_id: groupId } });
    await deps.audit.append(trx, {
      accountId,
      ctx,
      action: 'group.delete',
      target: { type: 'group', id: groupId },
      outcome: 'changed',
      details: { name: group.name, members },
    });
    return group;
  });
}
