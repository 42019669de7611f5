import { sql, type Insertable } from 'kysely';
import type { OAuthApp, OAuthAppsTable, UserRole } from '../storage/schema.js';
import type { Executor } from './executor.js';

/** An app with the current role of the person who made it (null: deleted, or the operator made it). */
export type AppRow = OAuthApp & { maker_role_now: UserRole | null };

const makerRoleNow = sql<UserRole | null>`(SELECT m.role FROM users m WHERE m.account_id = oauth_apps.account_id
      AND m.id = oauth_apps.created_by)`.as('maker_role_now');

export function insertApp(db: Executor, row: Insertable<OAuthAppsTable>): Promise<OAuthApp> {
  return db.insertInto('oauth_apps').values(row).returningAll().executeTakeFirstOrThrow();
}

export function findAppById(db: Executor, accountId: string, id: string): Promise<AppRow | undefined> {
  return db
    .selectFrom('oauth_apps')
    .selectAll()
    .select(makerRoleNow)
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** The token endpoints' lookup, several at once: a client_id names one app across all accounts. */
export function findAppsByClientIds(db: Executor, clientIds: string[]): Promise<OAuthApp[]> {
  return db
    .selectFrom('oauth_apps')
    .selectAll()
    .where(sql<boolean>`client_id = ANY(${clientIds})`)
    .execute();
}

export function listApps(db: Executor, accountId: string): Promise<AppRow[]> {
  return db
    .selectFrom('oauth_apps')
    .selectAll()
    .select(makerRoleNow)
    .where('account_id', '=', accountId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

export function updateApp(
  db: Executor,
  accountId: string,
  id: string,
  changes: { disabled_at?: Date | null; secret_hash?: string; secret_rotated_at?: Date },
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
  return db
    .selectFrom('oauth_apps')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
}

/** The app of a client_id in an account, its row locked (FOR UPDATE) or not. */
export function findAppByClientId(
  db: Executor,
  accountId: string,
  clientId: string,
  lock = false,
): Promise<OAuthApp | undefined> {
  const query = db
    .selectFrom('oauth_apps')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('client_id', '=', clientId);
  return (lock ? query.forUpdate() : query).executeTakeFirst();
}

/**
 * A user's current role (null: deleted), their row share-locked until the transaction ends, so that a
 * demotion either commits before the caller's change reads it or waits for that change to commit (an
 * app's maker, a person administering apps).
 */
export async function readUserRole(db: Executor, accountId: string, makerId: string): Promise<UserRole | null> {
  const row = await db
    .selectFrom('users')
    .select('role')
    .where('account_id', '=', accountId)
    .where('id', '=', makerId)
    .forShare()
    .executeTakeFirst();
  return row?.role ?? null;
}

/**
 * Counts an app's suspensions of the last hour and, when under `cap`, records one more; the caller holds
 * the app's row lock, so concurrent suspensions by one app count one after another. Rows past the hour
 * are pruned on the way. Returns when the oldest counted one leaves the window, when the cap is reached.
 */
export async function takeSuspensionSlot(
  db: Executor,
  app: { account_id: string; id: string },
  userId: string,
  cap: number,
): Promise<{ taken: true } | { taken: false; freeAt: Date }> {
  await db
    .deleteFrom('app_suspensions')
    .where('account_id', '=', app.account_id)
    .where('app_id', '=', app.id)
    .where('at', '<=', sql<Date>`now() - interval '1 hour'`)
    .execute();
  const { rows } = await sql<{ n: string; oldest: Date | null }>`
    SELECT count(*) AS n, min(at) AS oldest FROM app_suspensions WHERE account_id = ${app.account_id}
      AND app_id = ${app.id}`.execute(db);
  const { n, oldest } = rows[0]!;
  if (Number(n) >= cap) return { taken: false, freeAt: new Date(oldest!.getTime() + 3_600_000) };
  await db
    .insertInto('app_suspensions')
    .values({ account_id: app.account_id, app_id: app.id, user_id: userId })
    .execute();
  return { taken: true };
}
