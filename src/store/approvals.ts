import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import type { PlanApprovalsTable, PlanStatus } from '../storage/schema.js';
import type { Executor } from './executor.js';
import type { PlanRow } from './plans.js';

export type DecisionRow = Selectable<PlanApprovalsTable>;

/** Reads a plan and locks it until the transaction ends: decisions on one plan queue behind each other. */
export function lockPlan(db: Executor, accountId: string, id: string): Promise<PlanRow | undefined> {
  return db.selectFrom('plans').selectAll().where('account_id', '=', accountId).where('id', '=', id).forUpdate().executeTakeFirst();
}

/** Records one person's decision; false when that person already decided this plan. */
export async function insertDecision(db: Executor, row: Omit<DecisionRow, 'created_at'>): Promise<boolean> {
  const inserted = await db.insertInto('plan_approvals').values(row).onConflict((oc) => oc.columns(['account_id', 'plan_id', 'approver_id']).doNothing()).returning('approver_id').executeTakeFirst();
  return inserted !== undefined;
}

export function listDecisions(db: Executor, accountId: string, planId: string): Promise<DecisionRow[]> {
  return db.selectFrom('plan_approvals').selectAll().where('account_id', '=', accountId).where('plan_id', '=', planId).orderBy('created_at').orderBy('approver_id').execute();
}

/** Ends a pending plan: its final status, when it was decided, and (executed) its last verdicts. */
export function finishPlan(db: Executor, plan: PlanRow, status: PlanStatus, verdicts?: unknown[]): Promise<PlanRow> {
  return db
    .updateTable('plans')
    .set({
      status,
      decided_at: sql<Date>`now()` as unknown as Date,
      ...(status === 'executed' ? { executed_at: sql<Date>`now()` as unknown as Date } : {}),
      ...(verdicts ? { verdicts: JSON.stringify(verdicts) } : {}),
    })
    .where('account_id', '=', plan.account_id)
    .where('id', '=', plan.id)
    .where('status', '=', 'pending_approval')
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Voids the subject's pending suspension plans made before now (a restore's stale approvals). */
export async function voidPendingPlansOfSubject(db: Executor, accountId: string, userId: string): Promise<string[]> {
  const rows = await db
    .updateTable('plans')
    .set({ status: 'void', decided_at: sql<Date>`now()` as unknown as Date })
    .where('account_id', '=', accountId)
    .where('subject_user_id', '=', userId)
    .where('status', '=', 'pending_approval')
    .where('action', '=', 'suspend')
    .returning('id')
    .execute();
  return rows.map((r) => r.id).sort();
}

export async function countPendingSuspensionsOf(db: Executor, accountId: string, userId: string): Promise<number> {
  const row = await db
    .selectFrom('plans')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('account_id', '=', accountId)
    .where('subject_user_id', '=', userId)
    .where('status', '=', 'pending_approval')
    .where('action', '=', 'suspend')
    .executeTakeFirstOrThrow();
  return Number(row.n);
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
  const result = await db.updateTable('breaker_slots').set({ used_at: null, plan_id: null }).where('account_id', '=', accountId).where('plan_id', '=', planId).executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export async function markFalsePositive(db: Executor, accountId: string, signalId: string): Promise<void> {
  await db.updateTable('signals').set({ false_positive_at: sql<Date>`now()` as unknown as Date }).where('account_id', '=', accountId).where('id', '=', signalId).execute();
}
