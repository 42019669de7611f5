/**
 * Global Token Revocation (draft-parecki-oauth-global-token-revocation), the directory's side: another
 * system (an IdP's Universal Logout, another Cordon's `gtr` target) asks that every session of a user end.
 * Every live session of the user is revoked in one transaction with its `user.sessions.revoke_all` entry
 * (the count, the ids, the caller app); the user's state is left as it is (a logout, not a suspension), and
 * the next sign-in is a new authentication. A user with no live session is a success that changed nothing.
 *
 * The user is looked up in the caller's account only, and an app acts within its constraints (the groups it
 * may act on, the roles it may never touch, its maker's ceiling), read in the transaction as for any change
 * an app makes to a user. A refusal is recorded on its own and marked audited.
 */
import type { CallContext } from '../audit/entry.js';
import { AppError, isAppError } from '../errors.js';
import type { User } from '../storage/schema.js';
import { revokeSessionsOfUser } from '../store/sessions.js';
import { findUserByEmail, lockUserById } from '../store/users.js';
import type { DirectoryDeps } from './deps.js';

/** Who is to be logged out: by email (case-insensitively) or by Cordon user id. */
export type GlobalLogoutSubject = { email: string } | { userId: string };

export interface GlobalLogoutResult {
  user: User;
  /** The ids of the sessions this call ended (empty: the user had none live). */
  sessionsRevoked: string[];
}

/** The reason written on each revoked session. */
export const GLOBAL_LOGOUT_REASON = 'global_token_revocation';

/**
 * Ends every live session of the subject. `details` (the subject's format, say) go into the entry. Throws
 * USER_NOT_FOUND when the account has no such user, APP_CONSTRAINT when the calling app may not act on them.
 */
export async function revokeAllSessions(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  subject: GlobalLogoutSubject,
  details: Record<string, unknown> = {},
): Promise<GlobalLogoutResult> {
  const caller = ctx.actor.type === 'app' ? { client_id: ctx.actor.id } : {};
  let userId = 'userId' in subject ? subject.userId : undefined;
  try {
    return await deps.audit.transact(async (trx) => {
      if ('email' in subject) userId = (await findUserByEmail(trx, accountId, subject.email))?.id;
      // Locked, so that a sign-in (which share-locks the user) is either ended here or comes after.
      const user = userId === undefined ? undefined : await lockUserById(trx, accountId, userId);
      if (!user) throw new AppError('USER_NOT_FOUND');
      if (ctx.actor.type === 'app') await deps.appConstraints(trx, accountId, ctx.actor.id, user);
      const ids = await revokeSessionsOfUser(trx, accountId, user.id, GLOBAL_LOGOUT_REASON);
      await deps.audit.append(trx, {
        accountId,
        ctx,
        action: 'user.sessions.revoke_all',
        target: { type: 'user', id: user.id },
        outcome: ids.length > 0 ? 'changed' : 'unchanged',
        details: { ...details, ...caller, count: ids.length, sessions_revoked: ids },
      });
      return { user, sessionsRevoked: ids };
    });
  } catch (error) {
    if (!isAppError(error)) throw error;
    const known = error.code !== 'USER_NOT_FOUND' && userId !== undefined;
    await deps.audit.record({
      accountId,
      ctx,
      action: 'user.sessions.revoke_all',
      target: known ? { type: 'user', id: userId! } : { type: 'account', id: accountId },
      outcome: 'refused',
      details: { ...details, ...caller, code: error.code, ...(error.metadata ?? {}) },
    });
    error.audited = true;
    throw error;
  }
}
