import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import type { PlanApprovalsTable, PlanStatus, User } from '../storage/schema.js';
import { insertEntriesSql, type AuditEntryValues } from './audit.js';
import type { Executor } from './executor.js';
import type { PlanRow } from './plans.js';

export type DecisionRow = Selectable<PlanApprovalsTable>;

/** Reads a plan and locks it until the transaction ends: decisions on one plan queue behind each other. */
export function lockPlan(db: Executor, accountId: string, id: string): Promise<PlanRow | undefined> {
  return db
    .selectFrom('plans')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
}

/**
 * Records one person's decision and reads every decision on the plan, in one statement; `recorded` is
 * false when that person had already decided it (the key holds: one decision per person per plan).
 */
export async function insertDecision(
  db: Executor,
  row: Omit<DecisionRow, 'created_at'>,
): Promise<{ recorded: boolean; decisions: DecisionRow[] }> {
  const result = await sql<DecisionRow & { new: boolean }>`
    WITH ins AS (
      INSERT INTO plan_approvals (account_id, plan_id, approver_id, decision, reason, action_digest, session_id)
      VALUES (${row.account_id}, ${row.plan_id}, ${row.approver_id}, ${row.decision}, ${row.reason},
        ${row.action_digest}, ${row.session_id})
      ON CONFLICT (account_id, plan_id, approver_id) DO NOTHING
      RETURNING *
    )
    SELECT ins.*, true AS new FROM ins
    UNION ALL
    SELECT a.*, false AS new FROM plan_approvals a WHERE a.account_id = ${row.account_id} AND a.plan_id = ${row.plan_id}
    ORDER BY created_at, approver_id`.execute(db);
  return { recorded: result.rows.some((r) => r.new), decisions: result.rows.map(({ new: _, ...d }) => d) };
}

export function listDecisions(db: Executor, accountId: string, planId: string): Promise<DecisionRow[]> {
  return db
    .selectFrom('plan_approvals')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('plan_id', '=', planId)
    .orderBy('created_at')
    .orderBy('approver_id')
    .execute();
}

/**
 * Ends a pending plan, with the entries that record why, in one statement: its final status, when it was
 * decided, and (executed) its last verdicts.
 */
export async function finishPlan(
  db: Executor,
  plan: PlanRow,
  status: PlanStatus,
  entries: AuditEntryValues[],
  verdicts?: unknown[],
  containmentId?: string | null,
): Promise<PlanRow> {
  const result = await sql<PlanRow>`
    WITH entries AS (${insertEntriesSql(entries)})
    UPDATE plans SET status = ${status}, decided_at = now(),
      containment_id = coalesce(${containmentId ?? null}::text, containment_id),
                     executed_at = CASE WHEN ${status} = 'executed' THEN now() END,
                     verdicts = coalesce(${verdicts ? JSON.stringify(verdicts) : null}::jsonb, verdicts)
    WHERE account_id = ${plan.account_id} AND id = ${plan.id} AND status = 'pending_approval'
    RETURNING *`.execute(db);
  if (!result.rows[0]) throw new Error(`plan ${plan.id} was not pending under its lock`);
  return result.rows[0];
}

/**
 * Locks a plan's subject and reads what protection is decided on, in one statement: the user, the
 * groups they are in (id and name), and how many other active owners the account has.
 */
export async function lockSubject(
  db: Executor,
  accountId: string,
  userId: string,
): Promise<(User & { groups: Array<{ id: string; name: string }>; other_active_owners: number }) | undefined> {
  const result = await sql<User & { groups: Array<{ id: string; name: string }>; other_active_owners: number }>`
    SELECT u.*,
           (SELECT coalesce(json_agg(json_build_object('id', g.id, 'name', g.name) ORDER BY g.id), '[]'::json)
              FROM group_members m JOIN groups g ON g.account_id = m.account_id AND g.id = m.group_id
             WHERE m.account_id = u.account_id AND m.user_id = u.id) AS groups,
           (SELECT count(*)::int FROM users o
             WHERE o.account_id = u.account_id AND o.role = 'OWNER' AND o.state = 'ACTIVE'
               AND o.id <> u.id) AS other_active_owners
    FROM users u WHERE u.account_id = ${accountId} AND u.id = ${userId}
    FOR UPDATE OF u`.execute(db);
  return result.rows[0];
}

/** Voids pending suspension plans: of one subject, of one playbook, or (neither) of the whole account. */
export async function voidPendingSuspensions(
  db: Executor,
  accountId: string,
  scope: { subjectUserId?: string; playbookName?: string },
): Promise<string[]> {
  let query = db
    .updateTable('plans')
    .set({ status: 'void', decided_at: sql<Date>`now()` as unknown as Date })
    .where('account_id', '=', accountId)
    .where('status', '=', 'pending_approval')
    .where('action', '=', 'suspend');
  if (scope.subjectUserId) query = query.where('subject_user_id', '=', scope.subjectUserId);
  if (scope.playbookName) query = query.where('playbook_name', '=', scope.playbookName);
  const rows = await query.returning('id').execute();
  return rows.map((r) => r.id).sort();
}

/** Pending plans whose time ran out, locked with SKIP LOCKED so that nodes share the sweep. */
export function claimExpiredPlans(db: Executor, limit: number): Promise<PlanRow[]> {
  return db
    .selectFrom('plans')
    .selectAll()
    .where('status', '=', 'pending_approval')
    .where('expires_at', '<=', sql<Date>`now()`)
    .orderBy('expires_at')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
}

/** Frees the blast-radius slots a plan's execution used: a false positive does not count against the breaker. */
export async function releaseSlotsOfPlan(db: Executor, accountId: string, planId: string): Promise<number> {
  const result = await db
    .updateTable('breaker_slots')
    .set({ used_at: null, plan_id: null })
    .where('account_id', '=', accountId)
    .where('plan_id', '=', planId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function markFalsePositive(db: Executor, accountId: string, signalId: string): Promise<void> {
  await db
    .updateTable('signals')
    .set({ false_positive_at: sql<Date>`now()` as unknown as Date })
    .where('account_id', '=', accountId)
    .where('id', '=', signalId)
    .execute();
}
