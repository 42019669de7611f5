import type { Transaction } from 'kysely';
import type { CallContext } from '../audit/entry.js';
import { makeCredentials, storeCredentials, type NewCredentials } from './credentials.js';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import type { Account, Database, User } from '../storage/schema.js';
import { insertAccount } from '../store/accounts.js';
import type { DirectoryDeps } from './deps.js';
import { insertUsersWithGroups } from './users.js';
import { assertNewUser } from './validate.js';

export interface CreatedAccount {
  account: Account;
  owner: User;
  /** The owner's sign-in credentials (password, TOTP seed): shown once, stored only hashed or sealed. */
  ownerCredentials: NewCredentials;
}

export interface NewAccountInput {
  name: string;
  owner: { email: string; display_name: string };
}

export interface PreparedAccount {
  name: string;
  ownerCredentials: NewCredentials;
}

/** Validates the input and makes the owner's credentials (the slow hash runs outside any transaction). */
export async function prepareAccount(input: NewAccountInput): Promise<PreparedAccount> {
  const name = input.name.trim();
  if (name.length === 0 || name.length > 200)
    throw new AppError('INVALID_ARGUMENT', { description: 'name: expected 1 to 200 characters' });
  assertNewUser(input.owner);
  return { name, ownerCredentials: await makeCredentials() };
}

/** Inserts an account and its owner, with the audit entries of both, inside `trx`. */
export async function insertAccountWithOwner(
  deps: DirectoryDeps,
  trx: Transaction<Database>,
  ctx: CallContext,
  input: NewAccountInput,
  prepared: PreparedAccount,
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
  const [inserted] = await insertUsersWithGroups(deps, trx, ctx, account.id, [{ ...input.owner, role: 'OWNER' }]);
  const owner = await storeCredentials(deps, trx, inserted!, prepared.ownerCredentials);
  return { account, owner };
}

/** Creates an account and its first owner, with the audit entries of both, in one transaction. */
export async function createAccount(
  deps: DirectoryDeps,
  ctx: CallContext,
  input: NewAccountInput,
): Promise<CreatedAccount> {
  const prepared = await prepareAccount(input);
  const created = await deps.audit.transact((trx) => insertAccountWithOwner(deps, trx, ctx, input, prepared));
  return { ...created, ownerCredentials: prepared.ownerCredentials };
}
