import type { Account } from '../storage/schema.js';
import type { Executor } from './executor.js';

export async function insertAccount(db: Executor, account: { id: string; name: string }): Promise<Account> {
  const row = await db.insertInto('accounts').values(account).returningAll().executeTakeFirstOrThrow();
  await db
    .insertInto('audit_logs')
    .values({ account_id: account.id })
    .onConflict((oc) => oc.doNothing())
    .execute();
  return row;
}

export function findAccountById(db: Executor, id: string): Promise<Account | undefined> {
  return db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * Takes the account row lock: serializes changes that must see every owner of the account. NO KEY
 * UPDATE, because the foreign-key checks of inserts (users, groups) take KEY SHARE on this row: a long
 * import must not hold up the suspension of an owner, nor the other way round.
 */
export async function lockAccount(db: Executor, id: string): Promise<void> {
  await db.selectFrom('accounts').select('id').where('id', '=', id).forNoKeyUpdate().execute();
}

export function listAccounts(db: Executor): Promise<Account[]> {
  return db.selectFrom('accounts').selectAll().orderBy('created_at').orderBy('id').execute();
}
