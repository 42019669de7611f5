/**
 * A person replaces their password with one they chose. Passwords Cordon generates (an account's first
 * owner, a credential reset, the demo) have been shown on a terminal or handed over, so they must be
 * changed before the session may do anything else (see http/guards/session.ts). Proving the current password
 * counts against the same backoff as a sign-in: a stolen session token is no oracle for guessing it. The
 * change revokes the user's other sessions (whoever saw the old password may have signed in with it)
 * and keeps the one that made it. Audited, never with a password.
 */
import type { CallContext } from '../audit/entry.js';
import type { DirectoryDeps } from '../directory/deps.js';
import { hashSecret, verifySecret } from '../directory/passwords.js';
import { AppError } from '../errors.js';
import { revokeSessionsOfUser, type SignedInSession } from '../store/sessions.js';
import { claimSignInAttempt, findUserById, lockUserById, setChosenPassword } from '../store/users.js';
import { backoffError } from './sign-in.js';

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 1024;

/** Why `password` may not replace `current`, or undefined when it may. Lengths count characters (code points). */
export function passwordPolicyProblem(password: string, current: string): string | undefined {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH)
    return `weak_password: the new password needs at least ${PASSWORD_MIN_LENGTH} characters`;
  if (length > PASSWORD_MAX_LENGTH)
    return `weak_password: the new password may have at most ${PASSWORD_MAX_LENGTH} characters`;
  if (password.includes('\0')) return 'weak_password: the new password may not contain a NUL character';
  if (password === current) return 'weak_password: the new password must differ from the current one';
  return undefined;
}

export interface PasswordChanged {
  /** The user's other sessions, revoked by the change. */
  sessionsRevoked: string[];
}

export async function changePassword(
  deps: DirectoryDeps,
  ctx: CallContext,
  session: SignedInSession,
  currentPassword: string,
  newPassword: string,
): Promise<PasswordChanged> {
  const target = { type: 'user' as const, id: session.user_id };
  const refuse = async (reason: string, error: AppError): Promise<never> => {
    await deps.audit.record({
      accountId: session.account_id,
      ctx,
      action: 'user.password.change',
      target,
      outcome: 'refused',
      details: { reason },
    });
    error.audited = true;
    throw error;
  };

  const problem = passwordPolicyProblem(newPassword, currentPassword);
  if (problem) return refuse('weak_password', new AppError('WEAK_PASSWORD', { description: problem }));
  const user = await claimSignInAttempt(deps.db, session.account_id, session.user.email);
  if (!user) {
    const blocked = await findUserById(deps.db, session.account_id, session.user_id);
    return refuse('backoff', backoffError(blocked?.sign_in_blocked_until ?? new Date()));
  }
  if (
    user.id !== session.user_id ||
    user.password_hash === null ||
    !(await verifySecret(currentPassword, user.password_hash))
  ) {
    return refuse('bad_password', new AppError('CURRENT_PASSWORD_WRONG'));
  }
  const newHash = await hashSecret(newPassword);
  const changed = await deps.audit.transact(async (trx) => {
    const locked = await lockUserById(trx, session.account_id, session.user_id);
    if (!locked || locked.state !== 'ACTIVE') return undefined;
    const updated = await setChosenPassword(trx, session.account_id, session.user_id, user.password_hash!, newHash);
    if (!updated) return undefined;
    const sessionsRevoked = await revokeSessionsOfUser(
      trx,
      session.account_id,
      session.user_id,
      'password_changed',
      session.id,
    );
    await deps.audit.append(trx, {
      accountId: session.account_id,
      ctx,
      action: 'user.password.change',
      target,
      outcome: 'changed',
      details: { was_required: locked.password_change_required, sessions_revoked: sessionsRevoked },
    });
    return { sessionsRevoked };
  });
  // Suspended, reset or changed by another request between the check and the transaction.
  return (
    changed ??
    refuse(
      'changed_meanwhile',
      new AppError('FAILED_PRECONDITION', { description: 'the password or the user changed meanwhile: sign in again' }),
    )
  );
}
