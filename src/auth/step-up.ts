/**
 * Step-up: a signed-in person proves a fresh authenticator code before a decision that acts on someone
 * (approving a plan). The code must be the current one and newer than any the user spent (a code seen
 * over a shoulder, or spent at sign-in, does not count twice); wrong codes count against the same
 * per-user backoff as sign-ins, so a stolen session cookie is no oracle for guessing six digits.
 * Audited either way (`user.step_up`), never with the code.
 */
import type { DirectoryDeps } from '../directory/deps.js';
import { totpSealLabel } from '../directory/credentials.js';
import { matchTotp } from '../directory/totp.js';
import { AppError } from '../errors.js';
import { claimSignInAttempt, completeSignIn, findUserById } from '../store/users.js';
import type { SessionPrincipal } from './principal.js';
import { backoffError } from './sign-in.js';

export async function verifyStepUp(
  deps: DirectoryDeps,
  person: SessionPrincipal,
  code: string,
  purpose: { type: string; id: string },
): Promise<void> {
  const { session, ctx } = person;
  const entry = { accountId: session.account_id, ctx, action: 'user.step_up' as const };
  const target = { type: 'user' as const, id: session.user_id };
  const refuse = async (reason: string, error: AppError): Promise<never> => {
    await deps.audit.record({ ...entry, target, outcome: 'refused', details: { reason, purpose } });
    error.audited = true;
    throw error;
  };
  const user = await claimSignInAttempt(deps.db, session.account_id, session.user.email);
  if (!user || user.id !== session.user_id) {
    const blocked = await findUserById(deps.db, session.account_id, session.user_id);
    return refuse('backoff', backoffError(blocked?.sign_in_blocked_until ?? new Date()));
  }
  const seed =
    user.totp_secret_enc === null
      ? undefined
      : deps.sealer.open(totpSealLabel(user.account_id, user.id), user.totp_secret_enc);
  const step = seed === undefined ? undefined : matchTotp(seed, code.trim(), Date.now() / 1000, user.totp_last_step);
  if (step === undefined) return refuse('bad_totp', new AppError('STEP_UP_FAILED'));
  const proved = await deps.audit.transact(async (trx) => {
    const current = await completeSignIn(trx, user.account_id, user.id, step);
    if (current) await deps.audit.append(trx, { ...entry, target, outcome: 'changed', details: { purpose } });
    return current !== undefined;
  });
  // The code spent by a concurrent request between the check and the transaction, or the user suspended.
  if (!proved) return refuse('totp_replayed', new AppError('STEP_UP_FAILED'));
}
