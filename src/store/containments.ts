import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import type { ContainmentsTable, User } from '../storage/schema.js';
import type { Executor } from './executor.js';

export type ContainmentRow = Selectable<ContainmentsTable>;

export function findContainment(db: Executor, accountId: string, id: string): Promise<ContainmentRow | undefined> {
  return db.selectFrom('containments').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
}

/** Locks a containment record until the transaction ends (a restore, the restore-after job). */
export function lockContainment(db: Executor, accountId: string, id: string): Promise<ContainmentRow | undefined> {
  return db.selectFrom('containments').selectAll().where('account_id', '=', accountId).where('id', '=', id).forUpdate().executeTakeFirst();
}

/** The user's open record (there is at most one). */
export function findOpenContainment(db: Executor, accountId: string, userId: string): Promise<ContainmentRow | undefined> {
  return db.selectFrom('containments').selectAll().where('account_id', '=', accountId).where('user_id', '=', userId).where('status', '=', 'open').executeTakeFirst();
}

export function findContainmentOfPlan(db: Executor, accountId: string, planId: string): Promise<ContainmentRow | undefined> {
  return db.selectFrom('containments').selectAll().where('account_id', '=', accountId).where('plan_id', '=', planId).executeTakeFirst();
}

export function listContainments(db: Executor, q: { accountId: string; status?: 'open' | 'closed' | undefined; limit: number }): Promise<ContainmentRow[]> {
  let query = db.selectFrom('containments').selectAll().where('account_id', '=', q.accountId);
  if (q.status) query = query.where('status', '=', q.status);
  return query.orderBy('opened_at', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
}

/**
 * Claims open records whose restore-after time has come and whose restore nobody asked for yet, locked
 * with SKIP LOCKED so that any number of nodes share the work without taking one record twice.
 */
export function claimDueContainments(db: Executor, limit: number): Promise<ContainmentRow[]> {
  return db
    .selectFrom('containments')
    .selectAll()
    .where('status', '=', 'open')
    .where('restore_requested_at', 'is', null)
    .where('restore_after', '<=', sql<Date>`now()`)
    .orderBy('restore_after')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
}

export async function markRestoreRequested(db: Executor, accountId: string, id: string): Promise<void> {
  await db.updateTable('containments').set({ restore_requested_at: sql<Date>`now()` as unknown as Date }).where('account_id', '=', accountId).where('id', '=', id).execute();
}

/** What a restore verifies and reports drift against: the user's state, role, memberships, live sessions and pending suspension plans. */
export interface RestoreState {
  state: string;
  role: string;
  group_ids: string[];
  live_sessions: string[];
  pending_suspensions: number;
}

/**
 * The user's RestoreState now, in one statement; with `lock`, the user's row is locked; with
 * `containmentId`, that record is read too.
 */
export async function readRestoreState(
  db: Executor,
  accountId: string,
  userId: string,
  opts: { lock?: boolean; containmentId?: string } = {},
): Promise<(RestoreState & { user: User; containment: ContainmentRow | null }) | undefined> {
  const result = await sql<RestoreState & { user: User; containment: ContainmentRow | null }>`
    SELECT u.state, u.role, row_to_json(u) AS user,
           (SELECT coalesce(array_agg(m.group_id ORDER BY m.group_id), '{}') FROM group_members m WHERE m.account_id = u.account_id AND m.user_id = u.id) AS group_ids,
           (SELECT coalesce(array_agg(s.id ORDER BY s.id), '{}') FROM sessions s
             WHERE s.account_id = u.account_id AND s.user_id = u.id AND s.revoked_at IS NULL
               AND (s.expires_at IS NULL OR s.expires_at > now())) AS live_sessions,
           (SELECT count(*)::int FROM plans p
             WHERE p.account_id = u.account_id AND p.subject_user_id = u.id AND p.status = 'pending_approval' AND p.action = 'suspend') AS pending_suspensions,
           (SELECT row_to_json(c) FROM containments c WHERE c.account_id = u.account_id AND c.id = ${opts.containmentId ?? null}) AS containment
    FROM users u WHERE u.account_id = ${accountId} AND u.id = ${userId} ${opts.lock ? sql`FOR UPDATE OF u` : sql``}`.execute(db);
  return result.rows[0];
}
