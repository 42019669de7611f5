import type { CallContext } from '../audit/entry.js';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import type { Account, User } from '../storage/schema.js';
import { insertAccount } from '../store/accounts.js';
import type { DirectoryDeps } from './deps.js';
import { generatePassword, hashSecret } from './passwords.js';
import { insertUsersWithGroups } from './users.js';
import { assertNewUser } from './validate.js';

export interface CreatedAccount {
  account: Account;
  owner: User;
  /** The owner's initial password: shown once, stored only as a scrypt hash. */
  ownerPassword: string;
}

/** Creates an account and its first owner, with the audit entries of both, in one transaction. */
export async function createAccount(
  deps: DirectoryDeps,
  ctx: CallContext,
  input: { name: string; owner: { email: string; display_name: string } },
): Promise<CreatedAccount> {
  const name = input.name.trim();
  if (name.length === 0 || name.length > 200) throw new AppError('INVALID_ARGUMENT', { description: 'name: expected 1 to 200 characters' });
  assertNewUser(input.owner);
  const ownerPassword = generatePassword();
  const passwordHash = await hashSecret(ownerPassword);
  return deps.audit.transact(async (trx) => {
    const account = await insertAccount(trx, { id: newId(), name });
    await deps.audit.append(trx, {
      accountId: account.id,
      ctx,
      action: 'account.create',
      target: { type: 'account', id: account.id },
      outcome: 'changed',
      details: { name },
    });
    const [owner] = await insertUsersWithGroups(deps, trx, ctx, account.id, [{ ...input.owner, role: 'OWNER', password_hash: passwordHash }]);
    return { account, owner: owner!, ownerPassword };
  });
}
