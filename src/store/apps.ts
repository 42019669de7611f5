import { sql, type Insertable } from 'kysely';
import type { OAuthApp, OAuthAppsTable } from '../storage/schema.js';
import type { Executor } from './executor.js';

export function insertApp(db: Executor, row: Insertable<OAuthAppsTable>): Promise<OAuthApp> {
  return db.insertInto('oauth_apps').values(row).returningAll().executeTakeFirstOrThrow();
}

export function findAppById(db: Executor, accountId: string, id: string): Promise<OAuthApp | undefined> {
  return db.selectFrom('oauth_apps').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
}

/** The token endpoints' lookup, several at once: a client_id names one app across all accounts. */
export function findAppsByClientIds(db: Executor, clientIds: string[]): Promise<OAuthApp[]> {
  return db.selectFrom('oauth_apps').selectAll().where(sql<boolean>`client_id = ANY(${clientIds})`).execute();
}

export function listApps(db: Executor, accountId: string): Promise<OAuthApp[]> {
  return db.selectFrom('oauth_apps').selectAll().where('account_id', '=', accountId).orderBy('created_at').orderBy('id').execute();
}

export function updateApp(
  db: Executor,
  accountId: string,
  id: string,
  changes: { disabled_at?: Date; secret_hash?: string; secret_rotated_at?: Date },
): Promise<OAuthApp> {
  return db
    .updateTable('oauth_apps')
    .set({ ...changes, updated_at: sql<Date>`now()` as unknown as Date })
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Reads the app and locks its row until the transaction ends. */
export function lockAppById(db: Executor, accountId: string, id: string): Promise<OAuthApp | undefined> {
  return db.selectFrom('oauth_apps').selectAll().where('account_id', '=', accountId).where('id', '=', id).forUpdate().executeTakeFirst();
}
