import { sql, type Insertable, type Selectable } from 'kysely';
import type { EventsTokensTable, UserRole } from '../storage/schema.js';
import type { Executor } from './executor.js';

export type EventsTokenRow = Selectable<EventsTokensTable>;

/** An events token as the feed's guard reads it: the token, its app's state and its maker's role now. */
export interface EventsTokenStanding extends EventsTokenRow {
  client_id: string;
  app_disabled: boolean;
  app_permissions: string[];
  created_by_role: UserRole | null;
  maker_id: string | null;
  maker_role: UserRole | null;
}

export async function insertEventsToken(db: Executor, row: Insertable<EventsTokensTable>): Promise<EventsTokenRow> {
  return db.insertInto('events_tokens').values(row).returningAll().executeTakeFirstOrThrow();
}

/** The token whose SHA-256 is `hash`, with what decides whether it still stands (one statement). */
export async function findEventsTokenByHash(db: Executor, hash: string): Promise<EventsTokenStanding | undefined> {
  const { rows } = await sql<EventsTokenStanding>`
    SELECT t.*, a.client_id, a.disabled_at IS NOT NULL AS app_disabled, a.permissions AS app_permissions,
           a.created_by_role, a.created_by AS maker_id, m.role AS maker_role
    FROM events_tokens t
    JOIN oauth_apps a ON a.account_id = t.account_id AND a.id = t.app_id
    LEFT JOIN users m ON m.account_id = a.account_id AND m.id = a.created_by
    WHERE t.token_hash = ${hash}`.execute(db);
  return rows[0];
}

export function listEventsTokensOfApp(db: Executor, accountId: string, appId: string): Promise<EventsTokenRow[]> {
  return db
    .selectFrom('events_tokens')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('app_id', '=', appId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/** Marks a token revoked (under a row lock); undefined when the app has no such token. */
export async function revokeEventsTokenRow(
  db: Executor,
  accountId: string,
  appId: string,
  id: string,
): Promise<{ token: EventsTokenRow; changed: boolean } | undefined> {
  const token = await db
    .selectFrom('events_tokens')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('app_id', '=', appId)
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
  if (!token) return undefined;
  if (token.revoked_at !== null) return { token, changed: false };
  const revoked = await db
    .updateTable('events_tokens')
    .set({ revoked_at: new Date() })
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return { token: revoked, changed: true };
}
