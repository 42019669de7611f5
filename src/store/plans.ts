import type { Insertable, Selectable } from 'kysely';
import { sql } from 'kysely';
import type { PlansTable } from '../storage/schema.js';
import type { Executor } from './executor.js';

export type PlanRow = Selectable<PlansTable>;

export function insertPlan(db: Executor, row: Insertable<PlansTable>): Promise<PlanRow> {
  return db.insertInto('plans').values(row).returningAll().executeTakeFirstOrThrow();
}

export function findPlan(db: Executor, accountId: string, id: string): Promise<PlanRow | undefined> {
  return db.selectFrom('plans').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
}

export function findPlanOfSignal(db: Executor, accountId: string, signalId: string): Promise<PlanRow | undefined> {
  return db.selectFrom('plans').selectAll().where('account_id', '=', accountId).where('signal_id', '=', signalId).executeTakeFirst();
}

/** The open plan (pending, or executed inside the window) for this subject and playbook, if any. */
export async function findOpenPlan(db: Executor, accountId: string, userId: string, playbook: string, windowSeconds: number): Promise<string | undefined> {
  const row = await db
    .selectFrom('plans')
    .select('id')
    .where('account_id', '=', accountId)
    .where('subject_user_id', '=', userId)
    .where('playbook_name', '=', playbook)
    .where('status', 'in', ['executed', 'pending_approval'])
    .where('created_at', '>', sql<Date>`now() - make_interval(secs => ${windowSeconds})`)
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.id;
}

/** Executions the blast-radius breaker counts: in the sliding window, in the account or of one playbook. */
export async function countExecutions(db: Executor, accountId: string, windowSeconds: number, playbook?: string): Promise<number> {
  let query = db
    .selectFrom('plans')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('account_id', '=', accountId)
    .where('status', '=', 'executed')
    .where('counts_for_breaker', '=', true)
    .where('executed_at', '>', sql<Date>`now() - make_interval(secs => ${windowSeconds})`);
  if (playbook !== undefined) query = query.where('playbook_name', '=', playbook);
  return Number((await query.executeTakeFirstOrThrow()).n);
}

export interface ListPlansQuery {
  accountId: string;
  status?: string | undefined;
  /** Keyset: plans created before this (created_at, id). */
  before?: { createdAt: string; id: string } | undefined;
  limit: number;
}

export function listPlans(db: Executor, q: ListPlansQuery): Promise<PlanRow[]> {
  let query = db.selectFrom('plans').selectAll().where('account_id', '=', q.accountId);
  if (q.status) query = query.where('status', '=', q.status as PlanRow['status']);
  if (q.before) {
    const { createdAt, id } = q.before;
    query = query.where(sql<boolean>`(created_at, id) < (${createdAt}::timestamptz, ${id})`);
  }
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
}
