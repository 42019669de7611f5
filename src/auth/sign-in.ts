/**
 * Human sign-in: email + password (scrypt) + TOTP code → an opaque session token. The token is 256
 * random bits shown once; the database keeps only its SHA-256. Wrong credentials all fail alike, and
 * every attempt is counted against the user before it is checked (see claimSignInAttempt), so guesses
 * back off even when sent in parallel. Suspended users cannot sign in, and suspension revokes their
 * sessions. Every attempt is audited, never with the password or code.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { CallContext } from '../audit/entry.js';
import type { DirectoryDeps } from '../directory/deps.js';
import { hashSecret, verifySecret } from '../directory/passwords.js';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import { makeSecret, secretPrefix } from '../secret-format.js';
import type { Session, User } from '../storage/schema.js';
import { findAccountById, listAccounts } from '../store/accounts.js';
import { insertSession } from '../store/sessions.js';
import { claimSignInAttempt, completeSignIn, findUserByEmail } from '../store/users.js';
import { totpSealLabel } from '../directory/credentials.js';
import { matchTotp } from '../directory/totp.js';

/**
 * Session tokens are Cordon secrets of kind `sess` (src/secret-format.ts), so that a leaked one is
 * recognisable (secret scanners) and never mistaken for a JWT. Before that format they were `cdns_` and
 * 256 random bits in base64url; those still work until they expire or are signed out, so this prefix can
 * go once CORDON_SESSION_TTL (at most 7 days) has passed since every node issued the new format.
 */
const LEGACY_SESSION_TOKEN_PREFIX = 'cdns_';

/**
 * Whether a presented credential is meant as a session token (of either format), which decides the path
 * a request takes: a session lookup, or an app's token. Whether it is live is the lookup's to say.
 */
export function isSessionToken(token: string | undefined): token is string {
  return (
    token !== undefined && (token.startsWith(secretPrefix('sess')) || token.startsWith(LEGACY_SESSION_TOKEN_PREFIX))
  );
}

export interface SignInRequest {
  /** Optional when the deployment has a single account. */
  accountId: string | undefined;
  email: string;
  password: string;
  totp: string;
  kind: 'web' | 'cli' | 'console';
  sourceAddress: string;
  userAgent: string | undefined;
}

export interface SignedIn {
  token: string;
  session: Session;
  user: User;
}

export function hashSessionToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}

// A hash to verify against when the user has none (or the email is unknown), so that the answer takes
// as long as for a user with a password.
let decoy: Promise<string> | undefined;
const decoyHash = () => (decoy ??= hashSecret(randomBytes(16).toString('hex')));

/** The refusal of a user backing off until `until`, with the seconds left in Retry-After. */
export function backoffError(until: Date): AppError {
  const wait = Math.max(1, Math.ceil((until.getTime() - Date.now()) / 1000));
  return new AppError('SIGN_IN_BACKOFF', { headers: { 'retry-after': String(wait) } });
}

export async function signIn(deps: DirectoryDeps, ttlSeconds: number, request: SignInRequest): Promise<SignedIn> {
  const accountId = await signInAccount(deps, request.accountId);
  const source = { source_address: request.sourceAddress, user_agent: request.userAgent ?? null };
  const refuse = async (reason: string, user: User | undefined, error: AppError): Promise<never> => {
    await deps.audit.record({
      accountId,
      ctx: { actor: { type: 'anonymous', id: request.sourceAddress }, authz: { method: 'password+totp' } },
      action: 'user.sign_in',
      target: user ? { type: 'user', id: user.id } : { type: 'email', id: request.email.toLowerCase().slice(0, 320) },
      outcome: 'refused',
      details: { reason, kind: request.kind, ...source },
    });
    throw error;
  };

  const user = await claimSignInAttempt(deps.db, accountId, request.email);
  if (!user) {
    const blocked = await findUserByEmail(deps.db, accountId, request.email);
    if (blocked?.sign_in_blocked_until) return refuse('backoff', blocked, backoffError(blocked.sign_in_blocked_until));
    await verifySecret(request.password, await decoyHash());
    return refuse('unknown_email', undefined, new AppError('SIGN_IN_FAILED'));
  }
  const passwordOk =
    (await verifySecret(request.password, user.password_hash ?? (await decoyHash()))) && user.password_hash !== null;
  const seed =
    user.totp_secret_enc === null
      ? undefined
      : deps.sealer.open(totpSealLabel(user.account_id, user.id), user.totp_secret_enc);
  const step = seed === undefined ? undefined : matchTotp(seed, request.totp, Date.now() / 1000, user.totp_last_step);
  if (user.password_hash === null || seed === undefined)
    return refuse('no_credentials', user, new AppError('SIGN_IN_FAILED'));
  if (!passwordOk) return refuse('bad_password', user, new AppError('SIGN_IN_FAILED'));
  if (step === undefined) return refuse('bad_totp', user, new AppError('SIGN_IN_FAILED'));
  if (user.state !== 'ACTIVE') return refuse('suspended', user, new AppError('USER_SUSPENDED'));

  const token = makeSecret('sess');
  const signedIn = await deps.audit.transact(async (trx) => {
    const current = await completeSignIn(trx, user.account_id, user.id, step);
    if (!current) return undefined;
    const ctx: CallContext = { actor: { type: 'user', id: user.id }, authz: { method: 'password+totp' } };
    const session = await insertSession(trx, {
      account_id: user.account_id,
      id: newId(),
      user_id: user.id,
      kind: request.kind,
      token_hash: hashSessionToken(token),
      expires_at: new Date(Date.now() + ttlSeconds * 1000),
    });
    await deps.audit.append(trx, {
      accountId: user.account_id,
      ctx,
      action: 'user.sign_in',
      target: { type: 'user', id: user.id },
      outcome: 'changed',
      details: {
        session_id: session.id,
        kind: request.kind,
        expire_time: session.expires_at!.toISOString(),
        ...source,
      },
    });
    return { token, session, user: current };
  });
  // Suspended, or the code spent by a concurrent sign-in, between the check and the transaction.
  return signedIn ?? refuse('totp_replayed_or_suspended', user, new AppError('SIGN_IN_FAILED'));
}

/**
 * The account signed in to: the one named, or the only one. An account that does not exist fails like
 * a wrong password (and has no log to audit in).
 */
async function signInAccount(deps: DirectoryDeps, given: string | undefined): Promise<string> {
  if (given !== undefined) {
    if (!(await findAccountById(deps.db, given))) throw new AppError('SIGN_IN_FAILED', { detail: 'unknown account' });
    return given;
  }
  const accounts = await listAccounts(deps.db);
  if (accounts.length > 1)
    throw new AppError('INVALID_ARGUMENT', {
      description: 'account_id is required: this deployment has several accounts',
    });
  if (accounts.length === 0) throw new AppError('SIGN_IN_FAILED', { detail: 'no account yet' });
  return accounts[0]!.id;
}
