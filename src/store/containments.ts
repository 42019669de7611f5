import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import type { ContainmentsTable, User } from '../storage/schema.js';
import type { Executor } from './executor.js';

export type ContainmentRow = Selectable<ContainmentsTable>;

export function findContainment(db: Executor, accountId: string, id: string): Promise<ContainmentRow | undefined> {
  return db
    .selectFrom('containments')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** Locks a containment record until the transaction ends; with `skipLocked`, undefined when another holds it. */
export function lockContainment(
  db: Executor,
  accountId: string,
  id: string,
  skipLocked = false,
): Promise<ContainmentRow | undefined> {
  const query = db
    .selectFrom('containments')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .forUpdate();
  return (skipLocked ? query.skipLocked() : query).executeTakeFirst();
}

/** The user's open record (there is at most one). */
export function findOpenContainment(
  db: Executor,
  accountId: string,
  userId: string,
): Promise<ContainmentRow | undefined> {
  return db
    .selectFrom('containments')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('user_id', '=', userId)
    .where('status', '=', 'open')
    .executeTakeFirst();
}

export function findContainmentOfPlan(
  db: Executor,
  accountId: string,
  planId: string,
): Promise<ContainmentRow | undefined> {
  return db
    .selectFrom('containments')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('plan_id', '=', planId)
    .executeTakeFirst();
}

export function listContainments(
  db: Executor,
  q: { accountId: string; status?: 'open' | 'closed' | undefined; limit: number },
): Promise<ContainmentRow[]> {
  let query = db.selectFrom('containments').selectAll().where('account_id', '=', q.accountId);
  if (q.status) query = query.where('status', '=', q.status);
  return query.orderBy('opened_at', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
}

/**
 * Open records whose restore-after time has come and whose restore nobody asked for yet. Read without a
 * lock: each is then taken in its own transaction, in the restores' lock order, skipping rows another
 * node holds (store/users and containments FOR UPDATE SKIP LOCKED).
 */
export function listDueContainments(db: Executor, limit: number): Promise<ContainmentRow[]> {
  return db
    .selectFrom('containments')
    .selectAll()
    .where('status', '=', 'open')
    .where('restore_requested_at', 'is', null)
    .where('restore_after', '<=', sql<Date>`now()`)
    .orderBy('restore_after')
    .limit(limit)
    .execute();
}

/** Closes the open record of a user being deleted (nobody is left to restore); its id, if there was one. */
export async function closeContainmentOfDeletedUser(
  db: Executor,
  accountId: string,
  userId: string,
  closedBy: string,
): Promise<string | null> {
  const row = await db
    .updateTable('containments')
    .set({
      status: 'closed',
      close_reason: 'deleted',
      closed_by: closedBy,
      closed_at: sql<Date>`now()` as unknown as Date,
    })
    .where('account_id', '=', accountId)
    .where('user_id', '=', userId)
    .where('status', '=', 'open')
    .returning('id')
    .executeTakeFirst();
  return row?.id ?? null;
}

export async function markRestoreRequested(db: Executor, accountId: string, id: string): Promise<void> {
  await db
    .updateTable('containments')
    .set({ restore_requested_at: sql<Date>`now()` as unknown as Date })
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .execute();
}

/**
 * What a restore verifies and reports drift against: the user's state, role, memberships, live sessions and pending
 * suspension plans.
 */
export interface RestoreState {
  state: string;
  role: string;
  group_ids: string[];
  live_sessions: string[];
  pending_suspensions: number;
}

/**
 * The user's RestoreState now, in one statement; with `lock`, the user's row is locked (or, with
 * 'skip_locked', undefined when another transaction holds it); with `containmentId`, that record is read too.
 */
export async function readRestoreState(
  db: Executor,
  accountId: string,
  userId: string,
  opts: { lock?: 'wait' | 'skip_locked'; containmentId?: string } = {},
): Promise<(RestoreState & { user: User; containment: ContainmentRow | null }) | undefined> {
  const result = await sql<RestoreState & { user: User; containment: ContainmentRow | null }>`
    SELECT u.state, u.role, row_to_json(u) AS user,
           (SELECT coalesce(array_agg(m.group_id ORDER BY m.group_id), '{}') FROM group_members m
             WHERE m.account_id = u.account_id AND m.user_id = u.id) AS group_ids,
           (SELECT coalesce(array_agg(s.id ORDER BY s.id), '{}') FROM sessions s
             WHERE s.account_id = u.account_id AND s.user_id = u.id AND s.revoked_at IS NULL
               AND (s.expires_at IS NULL OR s.expires_at > now())) AS live_sessions,
           (SELECT count(*)::int FROM plans p
             WHERE p.account_id = u.account_id AND p.subject_user_id = u.id AND p.status = 'pending_approval'
               AND p.action = 'suspend') AS pending_suspensions,
           (SELECT row_to_json(c) FROM containments c WHERE c.account_id = u.account_id
             AND c.id = ${opts.containmentId ?? null}) AS containment
    FROM users u WHERE u.account_id = ${accountId} AND u.id = ${userId} ${opts.lock ? sql`FOR UPDATE OF u` : sql``}
      ${opts.lock === 'skip_locked' ? sql`SKIP LOCKED` : sql``}`.execute(db);
  return result.rows[0];
}

/**
 * A containment as lists show it: with its subject's email and name, or a non-human subject's name (the
 * app's or source's, a session's person's email).
 */
export type ContainmentSummary = Pick<
  ContainmentRow,
  | 'id'
  | 'user_id'
  | 'plan_id'
  | 'status'
  | 'locked'
  | 'opened_at'
  | 'close_reason'
  | 'closed_at'
  | 'targets_state'
  | 'subject_nhi'
  | 'action'
> & { email: string | null; display_name: string | null; nhi_name: string | null };

/** Containment records, newest first, of the account (open or closed ones, one user's), with their subjects. */
export function listContainmentSummaries(
  db: Executor,
  q: { accountId: string; status?: 'open' | 'closed' | undefined; userId?: string | undefined; limit: number },
): Promise<ContainmentSummary[]> {
  let query = db
    .selectFrom('containments as c')
    .leftJoin('users as u', (join) => join.onRef('u.account_id', '=', 'c.account_id').onRef('u.id', '=', 'c.user_id'))
    .select([
      'c.id',
      'c.user_id',
      'c.plan_id',
      'c.status',
      'c.locked',
      'c.opened_at',
      'c.close_reason',
      'c.closed_at',
      'c.targets_state',
      'u.email',
      'u.display_name',
      'c.subject_nhi',
      'c.action',
      sql<string | null>`coalesce(
        (SELECT a.name FROM oauth_apps a WHERE a.account_id = c.account_id AND a.id = c.subject_nhi->>'id'
           AND c.subject_nhi->>'type' = 'app'),
        (SELECT s.name FROM signal_sources s WHERE s.account_id = c.account_id AND s.id = c.subject_nhi->>'id'
           AND c.subject_nhi->>'type' = 'source'),
        (SELECT p.email FROM users p WHERE p.account_id = c.account_id AND p.id = c.subject_nhi->>'user_id'))`.as(
        'nhi_name',
      ),
    ])
    .where('c.account_id', '=', q.accountId);
  if (q.status) query = query.where('c.status', '=', q.status);
  if (q.userId) query = query.where('c.user_id', '=', q.userId);
  return query.orderBy('c.opened_at', 'desc').orderBy('c.id', 'desc').limit(q.limit).execute();
}
