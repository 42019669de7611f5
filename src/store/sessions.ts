import { sql } from 'kysely';
import type { Session, SessionKind, User } from '../storage/schema.js';
import type { Executor } from './executor.js';

export function insertSession(
  db: Executor,
  row: { account_id: string; id: string; user_id: string; kind: SessionKind; token_hash?: string; expires_at?: Date },
): Promise<Session> {
  return db.insertInto('sessions').values(row).returningAll().executeTakeFirstOrThrow();
}

export function revokeSession(
  db: Executor,
  accountId: string,
  id: string,
  reason: string,
): Promise<Session | undefined> {
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

export type SignedInSession = Session & {
  user: Pick<User, 'email' | 'display_name' | 'role' | 'password_change_required'>;
};

/** The live sign-in session a token hash names: not revoked, not expired, of an active user. */
export async function findLiveSessionByTokenHash(
  db: Executor,
  tokenHash: string,
): Promise<SignedInSession | undefined> {
  const row = await db
    .selectFrom('sessions as s')
    .innerJoin('users as u', (join) => join.onRef('u.account_id', '=', 's.account_id').onRef('u.id', '=', 's.user_id'))
    .selectAll('s')
    .select(['u.email', 'u.display_name', 'u.role', 'u.password_change_required'])
    .where('s.token_hash', '=', tokenHash)
    .where('s.revoked_at', 'is', null)
    .where('s.expires_at', '>', sql<Date>`now()`)
    .where('u.state', '=', 'ACTIVE')
    .executeTakeFirst();
  if (!row) return undefined;
  const { email, display_name, role, password_change_required, ...session } = row;
  return { ...session, user: { email, display_name, role, password_change_required } };
}

/** Revokes every live session of a user (but `keep`, when given); returns their ids. */
export async function revokeSessionsOfUser(
  db: Executor,
  accountId: string,
  userId: string,
  reason: string,
  keep?: string,
): Promise<string[]> {
  const rows = await db
    .updateTable('sessions')
    .set({ revoked_at: sql<Date>`now()` as unknown as Date, revoke_reason: reason })
    .where('account_id', '=', accountId)
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .$if(keep !== undefined, (q) => q.where('id', '!=', keep!))
    .returning('id')
    .execute();
  return rows.map((r) => r.id).sort();
}

/**
 * Marks a session seen now, at most every `everySeconds` (the console's idle timeout counts from it):
 * one small write a while, not one per page.
 */
export async function touchSession(db: Executor, accountId: string, id: string, everySeconds: number): Promise<void> {
  await db
    .updateTable('sessions')
    .set({ last_seen_at: sql<Date>`now()` as unknown as Date })
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .where('last_seen_at', '<', sql<Date>`now() - make_interval(secs => ${everySeconds})`)
    .execute();
}

/** A user's live sessions (not revoked, not expired), oldest first. */
export function listLiveSessionsOfUser(db: Executor, accountId: string, userId: string): Promise<Session[]> {
  return db
    .selectFrom('sessions')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}
