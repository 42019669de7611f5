/**
 * A person's sign-in credentials: a random password (stored as a scrypt hash) and a TOTP seed (sealed
 * under the KEK, bound to the user's row). Both are shown once, when made.
 */
import type { Transaction } from 'kysely';
import type { CallContext } from '../audit/entry.js';
import type { DirectoryDeps } from './deps.js';
import { assertMayResetApprover } from './approver-group.js';
import { assertMayManage } from './user-admin.js';
import { generatePassword, hashSecret } from './passwords.js';
import { AppError } from '../errors.js';
import type { Database, User, UserRole } from '../storage/schema.js';
import { revokeSessionsOfUser } from '../store/sessions.js';
import { lockUserById, setUserCredentials } from '../store/users.js';
import { generateTotpSecret } from './totp.js';

export interface NewCredentials {
  password: string;
  passwordHash: string;
  /** Base32, as authenticator apps take it. */
  totpSecret: string;
}

/** The label a user's TOTP seed is sealed under: a seed copied to another row does not open. */
export const totpSealLabel = (accountId: string, userId: string) => `totp seed ${accountId}/${userId}`;

/** Makes a password and a TOTP seed; the slow hash runs here, outside any transaction. */
export async function makeCredentials(): Promise<NewCredentials> {
  const password = generatePassword();
  return { password, passwordHash: await hashSecret(password), totpSecret: generateTotpSecret() };
}

/** Stores credentials for a user inside `trx`. */
export async function storeCredentials(
  deps: DirectoryDeps,
  trx: Transaction<Database>,
  user: Pick<User, 'account_id' | 'id'>,
  creds: NewCredentials,
): Promise<User> {
  const updated = await setUserCredentials(trx, user.account_id, user.id, {
    password_hash: creds.passwordHash,
    totp_secret_enc: deps.sealer.seal(totpSealLabel(user.account_id, user.id), creds.totpSecret),
  });
  if (!updated) throw new AppError('USER_NOT_FOUND');
  return updated;
}

/**
 * Gives a user new credentials (the old ones stop working) and revokes the user's sessions, since a
 * reset usually means the old ones are not to be trusted. Audited, without the secrets. A signed-in
 * ADMIN (`actorRole`) may reset members only: resetting an owner's or another admin's credentials would
 * hand over their rights, so that takes an OWNER (or the operator on the database itself).
 */
export async function resetCredentials(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  userId: string,
  actorRole?: UserRole,
): Promise<{ user: User; credentials: NewCredentials }> {
  const credentials = await makeCredentials();
  return deps.audit.transact(async (trx) => {
    const existing = await lockUserById(trx, accountId, userId);
    if (!existing) throw new AppError('USER_NOT_FOUND');
    if (existing.externally_managed) throw new AppError('EXTERNALLY_MANAGED');
    assertMayManage(actorRole, existing.role, 'reset the credentials of');
    await assertMayResetApprover(trx, accountId, actorRole, userId);
    const user = await storeCredentials(deps, trx, existing, credentials);
    const revoked = await revokeSessionsOfUser(trx, accountId, userId, 'credentials_reset');
    await deps.audit.append(trx, {
      accountId,
      ctx,
      action: 'user.credentials.reset',
      target: { type: 'user', id: userId },
      outcome: 'changed',
      details: { sessions_revoked: revoked },
    });
    return { user, credentials };
  });
}
