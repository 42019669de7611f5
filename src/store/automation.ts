import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import type { AutomationSettingsTable, BreakersTable } from '../storage/schema.js';
import type { Executor } from './executor.js';

export type AutomationSettings = Selectable<AutomationSettingsTable>;
export type BreakerRow = Selectable<BreakersTable>;

const NO_SETTINGS = (accountId: string): AutomationSettings => ({
  account_id: accountId,
  paused_at: null,
  paused_by: null,
  pause_reason: null,
  breaker_max_actions: null,
  breaker_window_seconds: null,
  updated_at: new Date(0),
});

export async function readAutomation(db: Executor, accountId: string): Promise<AutomationSettings> {
  return (await db.selectFrom('automation_settings').selectAll().where('account_id', '=', accountId).executeTakeFirst()) ?? NO_SETTINGS(accountId);
}

/**
 * The account's settings, with its row locked until the transaction ends: what orders the engine's
 * executions (and pauses, and breaker resets) in one account. The row is made on first use.
 */
export async function lockAutomation(db: Executor, accountId: string): Promise<AutomationSettings> {
  const lock = () => db.selectFrom('automation_settings').selectAll().where('account_id', '=', accountId).forUpdate().executeTakeFirst();
  const row = await lock();
  if (row) return row;
  await db.insertInto('automation_settings').values({ account_id: accountId }).onConflict((oc) => oc.column('account_id').doNothing()).execute();
  return (await lock())!;
}

export function updateAutomation(
  db: Executor,
  accountId: string,
  changes: Partial<Pick<AutomationSettings, 'paused_at' | 'paused_by' | 'pause_reason' | 'breaker_max_actions' | 'breaker_window_seconds'>>,
): Promise<AutomationSettings> {
  return db
    .updateTable('automation_settings')
    .set({ ...changes, updated_at: sql<Date>`now()` as unknown as Date })
    .where('account_id', '=', accountId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function listBreakers(db: Executor, accountId: string): Promise<BreakerRow[]> {
  return db.selectFrom('breakers').selectAll().where('account_id', '=', accountId).orderBy('scope').execute();
}

/** Trips the breaker of `scope`; undefined when it was already tripped. */
export function tripBreaker(db: Executor, row: { account_id: string; scope: string; trip_plan_id: string; max_actions: number; window_seconds: number; held: string[] }): Promise<BreakerRow | undefined> {
  return db.insertInto('breakers').values(row).onConflict((oc) => oc.columns(['account_id', 'scope']).doNothing()).returningAll().executeTakeFirst();
}

/** Adds a subject the tripped breakers of these scopes held back. */
export async function holdOnBreakers(db: Executor, accountId: string, scopes: string[], userId: string): Promise<void> {
  await db
    .updateTable('breakers')
    .set({ held: sql<string[]>`CASE WHEN ${userId} = ANY(held) THEN held ELSE array_append(held, ${userId}) END` as unknown as string[] })
    .where('account_id', '=', accountId)
    .where('scope', 'in', scopes)
    .execute();
}

export function deleteBreakers(db: Executor, accountId: string, scope?: string): Promise<BreakerRow[]> {
  let query = db.deleteFrom('breakers').where('account_id', '=', accountId);
  if (scope !== undefined) query = query.where('scope', '=', scope);
  return query.returningAll().execute();
}
