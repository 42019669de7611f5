import { sql } from 'kysely';
import type { User, UserRole, UserState } from '../storage/schema.js';
import type { Executor } from './executor.js';

export interface NewUserRow {
  account_id: string;
  id: string;
  email: string;
  display_name: string;
  role: UserRole;
  externally_managed: boolean;
  password_hash?: string | null;
}

export function insertUsers(db: Executor, rows: NewUserRow[]): Promise<User[]> {
  return db.insertInto('users').values(rows).returningAll().execute();
}

export function findUserById(db: Executor, accountId: string, id: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
}

/**
 * Reads the user and locks its row until the transaction ends: `update` to change it, `share` to rely on
 * its state (e.g. before opening a session) while keeping writers out.
 */
export function lockUserById(db: Executor, accountId: string, id: string, mode: 'update' | 'share' = 'update'): Promise<User | undefined> {
  const query = db.selectFrom('users').selectAll().where('account_id', '=', accountId).where('id', '=', id);
  return (mode === 'update' ? query.forUpdate() : query.forShare()).executeTakeFirst();
}

export function findUserByEmail(db: Executor, accountId: string, email: string): Promise<User | undefined> {
  return db
    .selectFrom('users')
    .selectAll()
    .where('account_id', '=', accountId)
    .where(sql<string>`lower(email)`, '=', email.toLowerCase())
    .executeTakeFirst();
}

/** Which of these (lower-cased) emails already belong to users of the account. */
export async function findTakenEmails(db: Executor, accountId: string, emails: string[]): Promise<Set<string>> {
  if (emails.length === 0) return new Set();
  const rows = await db
    .selectFrom('users')
    .select(sql<string>`lower(email)`.as('email'))
    .where('account_id', '=', accountId)
    .where(sql<string>`lower(email)`, 'in', emails)
    .execute();
  return new Set(rows.map((r) => r.email));
}

export function updateUser(
  db: Executor,
  accountId: string,
  id: string,
  changes: { state?: UserState; role?: UserRole; display_name?: string },
): Promise<User> {
  return db
    .updateTable('users')
    .set({ ...changes, updated_at: sql<Date>`now()` as unknown as Date })
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Active owners of the account other than `exceptUserId`. */
export async function countOtherActiveOwners(db: Executor, accountId: string, exceptUserId: string): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('account_id', '=', accountId)
    .where('role', '=', 'OWNER')
    .where('state', '=', 'ACTIVE')
    .where('id', '!=', exceptUserId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export interface ListUsersQuery {
  accountId: string;
  state?: UserState | undefined;
  /** Keyset cursor: return users whose id sorts after this one. */
  afterId?: string | undefined;
  limit: number;
}

/** Users in id order; id order is stable while users are added or change state. */
export function listUsers(db: Executor, q: ListUsersQuery): Promise<User[]> {
  let query = db.selectFrom('users').selectAll().where('account_id', '=', q.accountId);
  if (q.state) query = query.where('state', '=', q.state);
  if (q.afterId) query = query.where('id', '>', q.afterId);
  return query.orderBy('id').limit(q.limit).execute();
}

export async function countUsers(db: Executor, accountId: string): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('account_id', '=', accountId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
