import { sql, type RawBuilder } from 'kysely';
import type { ContainmentCloseReason, User, UserRole, UserState } from '../storage/schema.js';
import type { AuditEntryValues } from './audit.js';
import type { Executor } from './executor.js';

export interface NewUserRow {
  account_id: string;
  id: string;
  email: string;
  display_name: string;
  role: UserRole;
  externally_managed: boolean;
}

export function insertUsers(db: Executor, rows: NewUserRow[]): Promise<User[]> {
  return db.insertInto('users').values(rows).returningAll().execute();
}

/**
 * A condition a statement's change must meet, checked in that statement: `ctes` end with one named
 * `precondition`, of one row with `met` (boolean) and `report` (json). When it is not met nothing
 * changes, and the caller gets `unmet(report)`.
 */
export interface StatementPrecondition<T> {
  ctes: RawBuilder<unknown>;
  unmet(report: unknown): T;
}

export function findUserById(db: Executor, accountId: string, id: string): Promise<User | undefined> {
  return db.selectFrom('users').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
}

/**
 * Reads the user and locks its row until the transaction ends: `update` to change it, `share` to rely on
 * its state (e.g. before opening a session) while keeping writers out.
 */
export function lockUserById(
  db: Executor,
  accountId: string,
  id: string,
  mode: 'update' | 'share' = 'update',
): Promise<User | undefined> {
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
  changes: { state?: UserState; role?: UserRole; display_name?: string; email?: string; externally_managed?: boolean },
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

/** What a listed user carries: everything but the credentials, which a list never needs. */
export type ListedUser = Pick<User, (typeof LISTED_COLUMNS)[number]>;
const LISTED_COLUMNS = [
  'account_id',
  'id',
  'email',
  'display_name',
  'state',
  'role',
  'externally_managed',
  'created_at',
  'updated_at',
] as const;

/** Users in id order; id order is stable while users are added or change state. */
export function listUsers(db: Executor, q: ListUsersQuery): Promise<ListedUser[]> {
  let query = db.selectFrom('users').select(LISTED_COLUMNS).where('account_id', '=', q.accountId);
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

/** The containment record a suspension opens (store/containments.ts), in the suspension's statement. */
export interface OpenContainment {
  id: string;
  planId: string | null;
  /** Engine-opened and the playbook locks it: only a restore (or containments:release) reactivates. */
  locked: boolean;
  restoreAfterSeconds: number | null;
  cause: string;
  openedBy: string;
}

/** How a reactivation closes the user's open containment record, if there is one. */
export interface CloseContainment {
  reason: ContainmentCloseReason;
  closedBy: string;
}

/**
 * Sets a locked user's state, revokes their live sessions when `revokeReason` is given, opens (on a
 * suspension) or closes (on a reactivation) the user's containment record, and appends the audit entry,
 * in one statement: one round trip instead of several on the hottest write path. Run it after
 * `lockUserById` in the same transaction, so its snapshot sees every session and membership committed
 * before the lock. `sessions_revoked` and `containment_id` are merged into the entry's details.
 *
 * With a `precondition` (such as the response engine's blast-radius slots, store/automation.ts
 * slotGate), the change and its entry happen only if it is met; `unmet` then carries its report.
 */
export async function applyUserState<T = never>(
  db: Executor,
  change: {
    accountId: string;
    userId: string;
    state: UserState;
    revokeReason: string | null;
    audit: AuditEntryValues;
    precondition?: StatementPrecondition<T> | undefined;
    /** A suspension opens the user's record; a reactivation closes it. */
    containment: { open: OpenContainment } | { close: CloseContainment };
  },
): Promise<{ user: User; sessionsRevoked: string[]; containmentId: string | null } | { unmet: T }> {
  const { accountId, userId, state, revokeReason, audit: a, precondition: p } = change;
  const containment = containmentCte(accountId, userId, change.containment);
  const result = await sql<User & { sessions_revoked: string[]; containment_id: string | null; report: unknown }>`
    WITH ${p ? sql`${p.ctes},` : sql``} changed AS (
      UPDATE users SET state = ${state}, updated_at = now()
      WHERE account_id = ${accountId} AND id = ${userId} ${p ? sql`AND (SELECT met FROM precondition)` : sql``}
      RETURNING *
    ), revoked AS (
      UPDATE sessions SET revoked_at = now(), revoke_reason = ${revokeReason}
      WHERE ${revokeReason}::text IS NOT NULL AND account_id = ${accountId} AND user_id = ${userId}
        AND revoked_at IS NULL
        AND EXISTS (SELECT 1 FROM changed)
      RETURNING id
    ), revoked_ids AS (
      SELECT coalesce(array_agg(id ORDER BY id), '{}') AS ids FROM revoked
    ), ${containment}, entry AS (
      INSERT INTO audit_inbox (account_id, actor_type, actor_id, action, target_type, target_id, cause, authz, outcome,
        details)
      SELECT ${a.account_id}, ${a.actor_type}, ${a.actor_id}, ${a.action}, ${a.target_type}, ${a.target_id},
             ${a.cause}::jsonb, ${a.authz}::jsonb, ${a.outcome},
             ${a.details}::jsonb || jsonb_build_object('sessions_revoked', to_jsonb(revoked_ids.ids))
               || coalesce((SELECT jsonb_build_object('containment_id', id) FROM containment), '{}'::jsonb)
      FROM revoked_ids WHERE EXISTS (SELECT 1 FROM changed)
    )
    SELECT changed.*, revoked_ids.ids AS sessions_revoked, (SELECT id FROM containment) AS containment_id,
           ${p ? sql`(SELECT report FROM precondition)` : sql`NULL::json`} AS report
    FROM revoked_ids LEFT JOIN changed ON true`.execute(db);
  const row = result.rows[0]!;
  const { sessions_revoked, report, containment_id, ...user } = row;
  if (user.id === null) {
    if (!p) throw new Error(`applyUserState: user ${userId} vanished under its lock`);
    return { unmet: p.unmet(report) };
  }
  return { user, sessionsRevoked: sessions_revoked, containmentId: containment_id };
}

/** The `containment` CTE of applyUserState: a suspension opens the user's record, a reactivation closes it. */
function containmentCte(
  accountId: string,
  userId: string,
  change: { open: OpenContainment } | { close: CloseContainment },
) {
  if ('open' in change) {
    const { open } = change;
    return sql`containment AS (
      INSERT INTO containments (account_id, id, user_id, plan_id, locked, snapshot, cause, opened_by, restore_after)
      SELECT c.account_id, ${open.id}, c.id, ${open.planId}, ${open.locked},
             jsonb_build_object('state', 'ACTIVE', 'role', c.role, 'sessions_revoked', to_jsonb(revoked_ids.ids),
                                'group_ids', (SELECT coalesce(jsonb_agg(m.group_id ORDER BY m.group_id), '[]'::jsonb)
                                  FROM group_members m
                                              WHERE m.account_id = c.account_id AND m.user_id = c.id)),
             ${open.cause}::jsonb, ${open.openedBy}::jsonb,
             now() + make_interval(secs => ${open.restoreAfterSeconds}::double precision)
      FROM changed c, revoked_ids
      RETURNING id
    )`;
  }
  const { close } = change;
  return sql`containment AS (
    UPDATE containments SET status = 'closed', close_reason = ${close.reason}, closed_by = ${close.closedBy}::jsonb,
      closed_at = now()
    WHERE account_id = ${accountId} AND user_id = ${userId} AND status = 'open' AND EXISTS (SELECT 1 FROM changed)
    RETURNING id
  )`;
}

/**
 * Sets a user's generated sign-in credentials (the seed already sealed): the password must be changed at
 * the next sign-in. Clears the backoff and the used TOTP steps.
 */
export function setUserCredentials(
  db: Executor,
  accountId: string,
  id: string,
  creds: { password_hash: string; totp_secret_enc: string },
): Promise<User | undefined> {
  return db
    .updateTable('users')
    .set({
      ...creds,
      password_change_required: true,
      totp_last_step: 0,
      sign_in_failures: 0,
      sign_in_blocked_until: null,
      updated_at: sql<Date>`now()` as unknown as Date,
    })
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

/**
 * Counts a sign-in attempt against the user before its credentials are checked (so that parallel
 * guesses are counted too), unless the user is backing off: from the 5th attempt in a row on, each one
 * blocks the next for 2, 4, 8 … seconds, at most 15 minutes. Undefined when no user has that email or it
 * is blocked; a successful sign-in resets the count.
 */
export function claimSignInAttempt(db: Executor, accountId: string, email: string): Promise<User | undefined> {
  return db
    .updateTable('users')
    .set({
      sign_in_failures: sql<number>`sign_in_failures + 1`,
      sign_in_blocked_until: sql<Date | null>`CASE WHEN sign_in_failures + 1 >= 5
        THEN now() + make_interval(secs => least(power(2, least(sign_in_failures - 3, 10)), 900)) END`,
    })
    .where('account_id', '=', accountId)
    .where(sql<string>`lower(email)`, '=', email.toLowerCase())
    .where((eb) =>
      eb.or([eb('sign_in_blocked_until', 'is', null), eb('sign_in_blocked_until', '<=', sql<Date>`now()`)]),
    )
    .returningAll()
    .executeTakeFirst();
}

/**
 * Completes a sign-in: spends the TOTP step (only if it is newer than the last one used, so a code
 * works once) and resets the backoff, for an active user only. The row lock it takes holds off a
 * concurrent suspension until the session is in. Undefined when the user is suspended or the step spent.
 */
export function completeSignIn(db: Executor, accountId: string, id: string, step: number): Promise<User | undefined> {
  return db
    .updateTable('users')
    .set({ totp_last_step: step, sign_in_failures: 0, sign_in_blocked_until: null })
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .where('state', '=', 'ACTIVE')
    .where('totp_last_step', '<', step)
    .returningAll()
    .executeTakeFirst();
}

/**
 * Replaces the password `current_hash` with one the user chose (no change required any more) and resets
 * the failed-attempt count. Undefined when the password changed meanwhile (a reset, or a concurrent change).
 */
export function setChosenPassword(
  db: Executor,
  accountId: string,
  id: string,
  currentHash: string,
  newHash: string,
): Promise<User | undefined> {
  return db
    .updateTable('users')
    .set({
      password_hash: newHash,
      password_change_required: false,
      sign_in_failures: 0,
      sign_in_blocked_until: null,
      updated_at: sql<Date>`now()` as unknown as Date,
    })
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .where('password_hash', '=', currentHash)
    .returningAll()
    .executeTakeFirst();
}

/** Deletes a user; their sessions and memberships go with them (ON DELETE CASCADE). */
export async function deleteUserRow(db: Executor, accountId: string, id: string): Promise<void> {
  await db.deleteFrom('users').where('account_id', '=', accountId).where('id', '=', id).execute();
}

/**
 * Refreshes the planner's statistics of the directory tables after a bulk write. PostgreSQL's autovacuum
 * would get there within a minute; PGlite has none, and until it learns a table grew it reads a page of
 * users by sorting the whole account instead of walking the key (milliseconds become tens of them).
 */
export async function analyzeDirectory(db: Executor): Promise<void> {
  await sql`ANALYZE users, groups, group_members`.execute(db);
}

/** A user's state and live sessions, in one read: the response engine's verification that a suspension took. */
export async function readStateAndLiveSessions(
  db: Executor,
  accountId: string,
  userId: string,
): Promise<{ state: UserState; live_sessions: number } | undefined> {
  const result = await sql<{ state: UserState; live_sessions: string }>`
    SELECT u.state, (SELECT count(*) FROM sessions s
                     WHERE s.account_id = u.account_id AND s.user_id = u.id AND s.revoked_at IS NULL
                       AND (s.expires_at IS NULL OR s.expires_at > now())) AS live_sessions
    FROM users u WHERE u.account_id = ${accountId} AND u.id = ${userId}`.execute(db);
  const row = result.rows[0];
  return row && { state: row.state, live_sessions: Number(row.live_sessions) };
}

/**
 * Users of the account whose email or display name holds `fragment` (case-insensitive), at most `limit`:
 * an exact email first, then a matching local part, then by email. Bounded by the account (the key's
 * prefix) and the limit; the fragment test itself scans the account's users (a trigram index would make
 * it an index search on very large accounts).
 */
export function searchUsers(db: Executor, accountId: string, fragment: string, limit: number): Promise<ListedUser[]> {
  const q = fragment.toLowerCase();
  return db
    .selectFrom('users')
    .select(LISTED_COLUMNS)
    .where('account_id', '=', accountId)
    .where(sql<boolean>`(strpos(lower(email), ${q}) > 0 OR strpos(lower(display_name), ${q}) > 0)`)
    .orderBy(sql`lower(email) = ${q}`, 'desc')
    .orderBy(sql`split_part(lower(email), '@', 1) = ${q}`, 'desc')
    .orderBy(sql`lower(email)`)
    .limit(limit)
    .execute();
}
