/**
 * Directory administration by people: update and delete users, change roles, mark users externally
 * managed. The rules:
 * - the account keeps an active owner: demoting or deleting the last one is refused (`no_owner_remain`),
 *   under the account lock, like suspending them (user-state.ts);
 * - an ADMIN manages MEMBERs only and grants no role above MEMBER: anything more would hand over rights
 *   the ADMIN does not hold, so it takes an OWNER (or the operator on the database itself).
 * Every change writes its audit entry in its own transaction.
 */
import { toJsonText, type CallContext } from '../audit/entry.js';
import { AppError } from '../errors.js';
import type { User, UserRole } from '../storage/schema.js';
import { lockAccount } from '../store/accounts.js';
import { closeContainmentOfDeletedUser } from '../store/containments.js';
import type { Executor } from '../store/executor.js';
import {
  countOtherActiveOwners,
  deleteUserRow,
  findTakenEmails,
  lockUserById,
  updateUser as updateUserRow,
} from '../store/users.js';
import type { DirectoryDeps } from './deps.js';
import { rethrowEmailTaken } from './users.js';
import { checkNewUser, ROLES } from './validate.js';

export interface UserChanges {
  email?: string | undefined;
  display_name?: string | undefined;
  role?: UserRole | undefined;
  externally_managed?: boolean | undefined;
}

/** Refuses when a person of `actorRole` may not `what` a user of `role` (no actor role: the operator). */
export function assertMayManage(actorRole: UserRole | undefined, role: UserRole, what: string): void {
  if (actorRole !== undefined && actorRole !== 'OWNER' && role !== 'MEMBER') {
    throw new AppError('PERMISSION_DENIED', { description: `only an OWNER may ${what} an ${role}` });
  }
}

/** Refuses when `user` is the last active owner (the caller holds the user's row lock). */
export async function assertAnotherOwner(trx: Executor, user: User): Promise<void> {
  if (user.role !== 'OWNER' || user.state !== 'ACTIVE') return;
  // Serializes owner changes within the account: two owners demoting each other cannot both win.
  await lockAccount(trx, user.account_id);
  if ((await countOtherActiveOwners(trx, user.account_id, user.id)) === 0)
    throw new AppError('LAST_OWNER', { metadata: { user_id: user.id } });
}

function checkChanges(changes: UserChanges): UserChanges {
  const given = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) as UserChanges;
  if (Object.keys(given).length === 0)
    throw new AppError('INVALID_ARGUMENT', {
      description: 'give at least one of email, display_name, role, externally_managed',
    });
  // The new-user rules, on the fields given (placeholders stand in for the others).
  const problems = checkNewUser({ email: 'x@x.example', display_name: 'x', ...given });
  if (problems.length > 0) throw new AppError('INVALID_ARGUMENT', { description: problems.join('; ') });
  return given.email === undefined ? given : { ...given, email: given.email.trim() };
}

/**
 * Applies the given changes; a change to what the user already is, is left out (and unaudited when nothing is left).
 */
export async function updateUser(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  userId: string,
  changes: UserChanges,
  actorRole?: UserRole,
): Promise<{ user: User; changed: string[] }> {
  const given = checkChanges(changes);
  return deps.audit
    .transact(async (trx) => {
      const user = await lockUserById(trx, accountId, userId);
      if (!user) throw new AppError('USER_NOT_FOUND', { metadata: { user_id: userId } });
      assertMayManage(actorRole, user.role, 'change');
      if (given.role !== undefined) assertMayManage(actorRole, given.role, 'make a user');
      const changed = (Object.keys(given) as Array<keyof UserChanges>).filter((k) => given[k] !== user[k]);
      if (changed.length === 0) return { user, changed };
      if (given.role !== undefined && given.role !== 'OWNER') await assertAnotherOwner(trx, user);
      if (
        changed.includes('email') &&
        given.email!.toLowerCase() !== user.email.toLowerCase() &&
        (await findTakenEmails(trx, accountId, [given.email!.toLowerCase()])).size > 0
      ) {
        throw new AppError('EMAIL_TAKEN');
      }
      const update = Object.fromEntries(changed.map((k) => [k, given[k]]));
      const updated = await updateUserRow(trx, accountId, userId, update);
      await deps.audit.append(trx, {
        accountId,
        ctx,
        action: 'user.update',
        target: { type: 'user', id: userId },
        outcome: 'changed',
        details: { from: Object.fromEntries(changed.map((k) => [k, user[k]])), to: update },
      });
      return { user: updated, changed };
    })
    .catch(rethrowEmailTaken);
}

/** A role change alone (the CLI and tests); see updateUser. */
export async function setUserRole(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  userId: string,
  role: UserRole,
): Promise<User> {
  if (!ROLES.includes(role))
    throw new AppError('INVALID_ARGUMENT', { description: `role: expected one of ${ROLES.join(', ')}` });
  return (await updateUser(deps, ctx, accountId, userId, { role })).user;
}

/** Deletes a user with their sessions and memberships; the audit entry keeps who they were. */
export async function deleteUser(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  userId: string,
  actorRole?: UserRole,
): Promise<User> {
  return deps.audit.transact(async (trx) => {
    const user = await lockUserById(trx, accountId, userId);
    if (!user) throw new AppError('USER_NOT_FOUND', { metadata: { user_id: userId } });
    assertMayManage(actorRole, user.role, 'delete');
    await assertAnotherOwner(trx, user);
    await deleteUserRow(trx, accountId, userId);
    const containment = await closeContainmentOfDeletedUser(
      trx,
      accountId,
      userId,
      toJsonText({ actor: ctx.actor, authz: ctx.authz }),
    );
    await deps.audit.append(trx, {
      accountId,
      ctx,
      action: 'user.delete',
      target: { type: 'user', id: userId },
      outcome: 'changed',
      details: {
        email: user.email,
        role: user.role,
        state: user.state,
        ...(containment ? { containment_closed: containment } : {}),
      },
    });
    return user;
  });
}
