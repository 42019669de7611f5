import type { Transaction } from 'kysely';
import type { CallContext } from '../audit/entry.js';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import type { Account, Database, User } from '../storage/schema.js';
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

export interface NewAccountInput {
  name: string;
  owner: { email: string; display_name: string };
}

/** Validates the input and makes the owner's one-time password and its hash (outside any transaction). */
export async function prepareAccount(input: NewAccountInput): Promise<{ name: string; ownerPassword: string; passwordHash: string }> {
  const name = input.name.trim();
  if (name.length === 0 || name.length > 200) throw new AppError('INVALID_ARGUMENT', { description: 'name: expected 1 to 200 characters' });
  assertNewUser(input.owner);
  const ownerPassword = generatePassword();
  return { name, ownerPassword, passwordHash: await hashSecret(ownerPassword) };
}

/** Inserts an account and its owner, with the audit entries of both, inside `trx`. */
export async function insertAccountWithOwner(
  deps: DirectoryDeps,
  trx: Transaction<Database>,
  ctx: CallContext,
  input: NewAccountInput,
  prepared: { name: string; passwordHash: string },
): Promise<{ account: Account; owner: User }> {
  const account = await insertAccount(trx, { id: newId(), name: prepared.name });
  await deps.audit.append(trx, {
    accountId: account.id,
    ctx,
    action: 'account.create',
    target: { type: 'account', id: account.id },
    outcome: 'changed',
    details: { name: prepared.name },
  });
  const [owner] = await insertUsersWithGroups(deps, trx, ctx, account.id, [{ ...input.owner, role: 'OWNER', password_hash: prepared.passwordHash }]);
  return { account, owner: owner! };
}

/** Creates an account and its first owner, with the audit entries of both, in one transaction. */
export async function createAccount(deps: DirectoryDeps, ctx: CallContext, input: NewAccountInput): Promise<CreatedAccount> {
  const prepared = await prepareAccount(input);
  const created = await deps.audit.transact((trx) => insertAccountWithOwner(deps, trx, ctx, input, prepared));
  return { ...created, ownerPassword: prepared.ownerPassword };
}
