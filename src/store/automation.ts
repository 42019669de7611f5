import type { RawBuilder, Selectable } from 'kysely';
import { randomInt } from 'node:crypto';
import { sql } from 'kysely';
import type { AutomationSettingsTable, BreakersTable } from '../storage/schema.js';
import type { Executor } from './executor.js';
import type { StatementPrecondition } from './users.js';

export type AutomationSettings = Selectable<AutomationSettingsTable>;
export type BreakerRow = Selectable<BreakersTable>;

const NO_SETTINGS = (accountId: string): AutomationSettings => ({
  account_id: accountId,
  paused_at: null,
  paused_by: null,
  pause_reason: null,
  breaker_max_actions: null,
  breaker_window_seconds: null,
  restore_approvals: 1,
  approver_group_id: null,
  updated_at: new Date(0),
});

/** Whether a user is in the account's approver group, as one SQL expression (isApprover, the console's inbox). */
export function inApproverGroupSql(accountId: string, userId: string): RawBuilder<boolean> {
  return sql<boolean>`EXISTS (SELECT 1 FROM automation_settings a
    JOIN group_members m ON m.account_id = a.account_id AND m.group_id = a.approver_group_id
    WHERE a.account_id = ${accountId} AND m.user_id = ${userId})`;
}

export async function isInApproverGroup(db: Executor, accountId: string, userId: string): Promise<boolean> {
  const result = await sql<{ member: boolean }>`SELECT ${inApproverGroupSql(accountId, userId)} AS member`.execute(db);
  return result.rows[0]!.member;
}

export async function readAutomation(db: Executor, accountId: string): Promise<AutomationSettings> {
  return (
    (await db.selectFrom('automation_settings').selectAll().where('account_id', '=', accountId).executeTakeFirst()) ??
    NO_SETTINGS(accountId)
  );
}

/**
 * The account's settings, with its row locked until the transaction ends (made on first use). An
 * executing plan takes it `share`d, so executions run side by side; a pause or a breaker reset takes it
 * for `update`, so it waits for the executions in flight and every later one sees it.
 */
export async function lockAutomation(
  db: Executor,
  accountId: string,
  mode: 'update' | 'share' = 'update',
): Promise<AutomationSettings> {
  const lock = () => {
    const query = db.selectFrom('automation_settings').selectAll().where('account_id', '=', accountId);
    return (mode === 'update' ? query.forUpdate() : query.forShare()).executeTakeFirst();
  };
  const row = await lock();
  if (row) return row;
  await db
    .insertInto('automation_settings')
    .values({ account_id: accountId })
    .onConflict((oc) => oc.column('account_id').doNothing())
    .execute();
  return (await lock())!;
}

export function updateAutomation(
  db: Executor,
  accountId: string,
  changes: Partial<
    Pick<
      AutomationSettings,
      | 'paused_at'
      | 'paused_by'
      | 'pause_reason'
      | 'breaker_max_actions'
      | 'breaker_window_seconds'
      | 'restore_approvals'
      | 'approver_group_id'
    >
  >,
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
export function tripBreaker(
  db: Executor,
  row: { account_id: string; scope: string; trip_plan_id: string; max_actions: number; window_seconds: number },
): Promise<BreakerRow | undefined> {
  return db
    .insertInto('breakers')
    .values(row)
    .onConflict((oc) => oc.columns(['account_id', 'scope']).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export function deleteBreakers(db: Executor, accountId: string, scope?: string): Promise<BreakerRow[]> {
  let query = db.deleteFrom('breakers').where('account_id', '=', accountId);
  if (scope !== undefined) query = query.where('scope', '=', scope);
  return query.returningAll().execute();
}

export interface Cap {
  scope: string;
  max: number;
  windowSeconds: number;
}

/** A few slots picked at random (probed by primary key: cheap, and concurrent claimers rarely collide). */
const probeSlots = (cap: Cap): number[] => Array.from({ length: 8 }, () => 1 + randomInt(cap.max));

/** The slots of `cap` above its max used inside its window (the cap was lowered since), as a condition. */
const usedAboveMax = (accountId: string, cap: Cap) => sql`
  EXISTS (SELECT 1 FROM breaker_slots
          WHERE account_id = ${accountId} AND scope = ${cap.scope} AND slot > ${cap.max}
            AND used_at > now() - make_interval(secs => ${cap.windowSeconds}))`;

/**
 * The claim of one free slot of `cap` (among `candidates`, or any), as a data-modifying statement. With
 * `onlyIfNoneAbove`, it claims nothing while an execution inside the window sits in a slot above the max
 * (made under a higher cap): the slots up to the max then undercount the window, and the claim must
 * count it instead (claimSlot).
 */
function claimSql(
  accountId: string,
  cap: Cap,
  planId: string,
  candidates: number[] | undefined,
  onlyIfNoneAbove: boolean,
) {
  return sql`
    UPDATE breaker_slots s SET used_at = now(), plan_id = ${planId}
    FROM (SELECT slot, used_at FROM breaker_slots
          WHERE account_id = ${accountId} AND scope = ${cap.scope} AND slot <= ${cap.max}
            ${candidates ? sql`AND slot = ANY(${candidates}::int[])` : sql``}
            AND (used_at IS NULL OR used_at <= now() - make_interval(secs => ${cap.windowSeconds}))
            ${onlyIfNoneAbove ? sql`AND NOT ${usedAboveMax(accountId, cap)}` : sql``}
          LIMIT 1 FOR UPDATE SKIP LOCKED) free
    WHERE s.account_id = ${accountId} AND s.scope = ${cap.scope} AND s.slot = free.slot
    RETURNING s.scope, s.slot, free.used_at AS previous`;
}

export interface Claim {
  scope: string;
  slot: number;
  previous: Date | null;
}

/**
 * A gate for a state change (store/users.ts applyUserState's precondition): CTEs claiming, by random
 * probes, one slot of every cap, met when every cap gave a slot. Otherwise nothing changes, the unmet
 * gate reports the slots it did claim, and the caller releases them and takes the slow path (claimSlot).
 */
export function slotGate(accountId: string, caps: Cap[], planId: string): StatementPrecondition<Claim[]> {
  const claims = caps.map(
    (cap, i) => sql`${sql.raw(`claim_${i}`)} AS (${claimSql(accountId, cap, planId, probeSlots(cap), true)})`,
  );
  const union = sql.join(
    caps.map((_, i) => sql`SELECT scope, slot, previous FROM ${sql.raw(`claim_${i}`)}`),
    sql` UNION ALL `,
  );
  return {
    ctes: sql`${sql.join(claims, sql`, `)}, precondition AS (SELECT count(*)::int = ${caps.length} AS met,
        coalesce(json_agg(c), '[]') AS report FROM (${union}) c)`,
    unmet: (report) =>
      ((report ?? []) as Array<{ scope: string; slot: number; previous: string | null }>).map((c) => ({
        scope: c.scope,
        slot: c.slot,
        previous: c.previous === null ? null : new Date(c.previous),
      })),
  };
}

/** Advisory lock class of a cap's counted claims (the two-int4 key space: no clash with single-key locks). */
const CAP_LOCK = 0x436f7264; // "Cord"

/**
 * Claims a free slot of the cap for this plan (see the breaker_slots migration): a slot never used, or
 * last used before the window, among the first `max`, skipping the ones other executions hold right now.
 * Slots are made on first need. Undefined means the cap is reached: every slot is used inside the window
 * or held by an execution in flight.
 *
 * After the cap was lowered, executions made under the higher cap may sit in slots above the new max:
 * while any of them is inside the window, a free slot is not enough. The claims of the cap then take
 * turns (an advisory lock held to commit) and each counts every execution in the window, whatever its
 * slot, so the window never holds more than the cap however many signals race. Once those executions
 * age out, the slots alone are exact again and claims run side by side.
 */
export async function claimSlot(db: Executor, accountId: string, cap: Cap, planId: string): Promise<Claim | undefined> {
  const above = await sql<{ above: boolean }>`SELECT ${usedAboveMax(accountId, cap)} AS above`.execute(db);
  if (above.rows[0]!.above) {
    await sql`SELECT pg_advisory_xact_lock(${CAP_LOCK}::int, hashtext(${accountId} || '/' || ${cap.scope}))`.execute(
      db,
    );
    // A statement after the lock: its snapshot holds every claim committed by the turns before.
    if ((await countUsedInWindow(db, accountId, cap)) >= cap.max) return undefined;
  }
  const claim = async (candidates: number[] | undefined) =>
    (
      await sql<Claim>`WITH claimed AS (${claimSql(accountId, cap, planId, candidates, false)})
          SELECT scope, slot, previous FROM claimed`.execute(db)
    ).rows[0];
  const claimed = (await claim(probeSlots(cap))) ?? (await claim(undefined));
  if (claimed) return claimed;
  // None free in this statement's snapshot: make the slots that do not exist yet (waiting for any other
  // plan making them), then look again in a fresh snapshot, which sees every slot committed meanwhile.
  const made = await sql<{
    n: number;
  }>`SELECT coalesce(max(slot), 0)::int AS n FROM breaker_slots WHERE account_id = ${accountId}
      AND scope = ${cap.scope}`.execute(db);
  const have = made.rows[0]!.n;
  if (have < cap.max) {
    await sql`
      INSERT INTO breaker_slots (account_id, scope, slot)
      SELECT ${accountId}, ${cap.scope}, n FROM generate_series(${have + 1}::int, ${cap.max}::int) AS n
      ON CONFLICT DO NOTHING`.execute(db);
    // Statistics for the new rows now: planned without them, the probe scans every slot (8 ms, not 0.1).
    await sql`ANALYZE breaker_slots`.execute(db);
  }
  return claim(undefined);
}

/** Gives a claimed slot back as it was (the plan did not execute after all). */
export async function releaseSlot(db: Executor, accountId: string, claimed: Claim): Promise<void> {
  await db
    .updateTable('breaker_slots')
    .set({ used_at: claimed.previous, plan_id: null })
    .where('account_id', '=', accountId)
    .where('scope', '=', claimed.scope)
    .where('slot', '=', claimed.slot)
    .execute();
}

/** The executions inside the cap's window, in any slot (those above the max included). */
async function countUsedInWindow(db: Executor, accountId: string, cap: Cap): Promise<number> {
  const result = await sql<{ used: number }>`
    SELECT count(*)::int AS used FROM breaker_slots
    WHERE account_id = ${accountId} AND scope = ${cap.scope}
      AND used_at > now() - make_interval(secs => ${cap.windowSeconds})`.execute(db);
  return result.rows[0]!.used;
}

/** Whether the cap has room now, without claiming a slot (dry runs). */
export async function hasFreeSlot(db: Executor, accountId: string, cap: Cap): Promise<boolean> {
  return (await countUsedInWindow(db, accountId, cap)) < cap.max;
}
