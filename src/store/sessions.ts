import { sql } from 'kysely';
import type { Session, SessionKind } from '../storage/schema.js';
import type { Executor } from './executor.js';

export function insertSession(db: Executor, row: { account_id: string; id: string; user_id: string; kind: SessionKind }): Promise<Session> {
  return db.insertInto('sessions').values(row).returningAll().executeTakeFirstOrThrow();
}

export function revokeSession(db: Executor, accountId: string, id: string, reason: string): Promise<Session | undefined> {
  return db
    .updateTable('sessions')
    .set({ revoked_at: sql<Date>`now()` as unknown as Date, revoke_reason: reason })
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

export function listSessionsOfUser(db: Executor, accountId: string, userId: string): Promise<Session[]> {
  return db
    .selectFrom('sessions')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}
