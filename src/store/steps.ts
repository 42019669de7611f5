/**
 * SQL of a containment's remote steps (the target_steps outbox, 0022-targets.ts): what the plan's
 * transaction reads to decide them and writes, how workers on any node claim them (FOR UPDATE SKIP LOCKED
 * under a lease), record an attempt's outcome, and how a restore cancels and reverses them.
 */
import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import type { StepStatus, TargetsState, TargetStepsTable } from '../storage/schema.js';
import type { Executor } from './executor.js';
import type { TargetRow } from './targets.js';

export type StepRow = Selectable<TargetStepsTable>;

/** A target as a plan sees it. */
export interface PlanTarget {
  id: string;
  name: string;
  kind: TargetRow['kind'];
  enabled: boolean;
  step_deadline_seconds: number;
  /** Null until a full sync walked the target: then a missing identity is not proof of absence. */
  last_sync_at: Date | null;
}

/** The account's targets that are not removed (enabled or not), by name. */
export function listPlanTargets(db: Executor, accountId: string): Promise<PlanTarget[]> {
  return db
    .selectFrom('targets')
    .select(['id', 'name', 'kind', 'enabled', 'step_deadline_seconds', 'last_sync_at'])
    .where('account_id', '=', accountId)
    .where('removed_at', 'is', null)
    .orderBy('name')
    .execute();
}

export type NewStep = Pick<
  StepRow,
  'account_id' | 'id' | 'containment_id' | 'plan_id' | 'target_id' | 'operation' | 'external_id'
> & { subject: string; deadline_at: Date };

export async function insertSteps(db: Executor, steps: NewStep[]): Promise<void> {
  if (steps.length === 0) return;
  await db.insertInto('target_steps').values(steps).execute();
}

export async function setTargetsState(
  db: Executor,
  accountId: string,
  containmentId: string,
  state: TargetsState | null,
): Promise<void> {
  await db
    .updateTable('containments')
    .set({ targets_state: state })
    .where('account_id', '=', accountId)
    .where('id', '=', containmentId)
    .execute();
}

/** A record's steps with their targets' names and kinds, oldest first. */
export type StepWithTarget = StepRow & { target_name: string; kind: TargetRow['kind'] };

export async function listStepsOf(
  db: Executor,
  accountId: string,
  containmentIds: string[],
): Promise<StepWithTarget[]> {
  if (containmentIds.length === 0) return [];
  const result = await sql<StepWithTarget>`
    SELECT s.*, t.name AS target_name, t.kind FROM target_steps s
      JOIN targets t ON t.account_id = s.account_id AND t.id = s.target_id
    WHERE s.account_id = ${accountId} AND s.containment_id = ANY(${containmentIds}::text[])
    ORDER BY s.created_at, s.operation DESC, t.name`.execute(db);
  return result.rows;
}

/** Cancels a record's pending suspend steps (a restore); the ones cancelled. */
export async function cancelPendingSuspends(db: Executor, accountId: string, containmentId: string) {
  return db
    .updateTable('target_steps')
    .set({ status: 'cancelled', finished_at: sql<Date>`now()` as unknown as Date, next_attempt_at: sql`now()` })
    .where('account_id', '=', accountId)
    .where('containment_id', '=', containmentId)
    .where('operation', '=', 'suspend')
    .where('status', '=', 'pending')
    .returningAll()
    .execute();
}

/** A claimed step: acting (an attempt starts), or only closing an interrupted attempt of a step that ended. */
export type ClaimedStep = StepRow & {
  target_name: string;
  kind: TargetRow['kind'];
  /** The step had an attempt open under a dead lease: that attempt is recorded as interrupted. */
  interrupted: boolean;
  interrupted_owner: string | null;
  /** Past its deadline: it ends failed without a call. */
  expired: boolean;
};

/**
 * Claims due steps for this node: pending ones whose time has come, and any whose attempt was left open
 * under a dead lease. At most `free` per target beyond what `inFlight` says this node already runs of it
 * (the target's max_concurrency less those). A reactivation waits while a suspend attempt of the same
 * record on the same target is open. A claimed pending step starts its attempt (attempts + 1,
 * attempt_open) unless it is past its deadline; an interrupted step that already ended only closes.
 */
export async function claimSteps(
  db: Executor,
  opts: { owner: string; leaseMs: number; limit: number; inFlight: Map<string, number> },
): Promise<ClaimedStep[]> {
  const ids = [...opts.inFlight.keys()];
  const counts = ids.map((id) => opts.inFlight.get(id)!);
  const due = sql`((s.status = 'pending' AND s.next_attempt_at <= now()
      AND (s.lease_until IS NULL OR s.lease_until < now())) OR (s.attempt_open AND s.lease_until < now()))
    AND NOT (s.operation = 'reactivate' AND EXISTS (SELECT 1 FROM target_steps o
      WHERE o.account_id = s.account_id AND o.containment_id = s.containment_id AND o.target_id = s.target_id
        AND o.operation = 'suspend' AND o.attempt_open))`;
  const result = await sql<ClaimedStep>`
    WITH inflight AS (SELECT * FROM unnest(${ids}::text[], ${counts}::int[]) AS i(target_id, n)),
    ranked AS (
      SELECT s.account_id, s.id, t.max_concurrency - coalesce(i.n, 0) AS free,
             row_number() OVER (PARTITION BY s.account_id, s.target_id ORDER BY s.next_attempt_at, s.id) AS rn
      FROM target_steps s JOIN targets t ON t.account_id = s.account_id AND t.id = s.target_id
        LEFT JOIN inflight i ON i.target_id = s.target_id
      WHERE ${due}),
    picked AS (
      SELECT s.account_id, s.id, s.attempt_open, s.lease_owner, s.status, s.deadline_at <= now() AS expired,
             t.name AS target_name, t.kind
      FROM target_steps s JOIN ranked r ON r.account_id = s.account_id AND r.id = s.id
        JOIN targets t ON t.account_id = s.account_id AND t.id = s.target_id
      WHERE (r.rn <= r.free OR s.status <> 'pending') AND ${due}
      ORDER BY s.next_attempt_at, s.id LIMIT ${opts.limit}
      FOR UPDATE OF s SKIP LOCKED)
    UPDATE target_steps u SET
      attempts = CASE WHEN p.status = 'pending' AND NOT p.expired THEN u.attempts + 1 ELSE u.attempts END,
      attempt_open = (p.status = 'pending' AND NOT p.expired),
      lease_owner = CASE WHEN p.status = 'pending' THEN ${opts.owner} ELSE NULL END,
      lease_until = CASE WHEN p.status = 'pending'
        THEN now() + make_interval(secs => ${opts.leaseMs / 1000}) ELSE NULL END
    FROM picked p WHERE u.account_id = p.account_id AND u.id = p.id
    RETURNING u.*, p.target_name, p.kind, p.attempt_open AS interrupted, p.lease_owner AS interrupted_owner,
      p.expired`.execute(db);
  return result.rows;
}

/** What an attempt (or a deadline) made of a step. */
export interface StepUpdate {
  status: StepStatus;
  external_id: string | null;
  observed_state: string | null;
  drift: Record<string, unknown> | null;
  last_error: Record<string, unknown> | null;
  /** Pending again: when to try next. */
  next_attempt_at: Date | null;
}

/**
 * Records an attempt's outcome on the step this node holds (its lease, the attempt it claimed); undefined
 * when it no longer holds it (another node took over after the lease ran out, and recorded the attempt as
 * interrupted). A step a restore cancelled meanwhile keeps its status; its attempt is closed.
 */
export async function finishAttempt(
  db: Executor,
  step: Pick<StepRow, 'account_id' | 'id' | 'attempts'>,
  owner: string,
  update: StepUpdate,
): Promise<{ status: StepStatus; was: StepStatus } | undefined> {
  const final = update.status !== 'pending';
  const result = await sql<{ status: StepStatus; was: StepStatus }>`
    UPDATE target_steps u SET
      status = CASE WHEN u.status = 'pending' THEN ${update.status} ELSE u.status END,
      external_id = coalesce(${update.external_id}, u.external_id),
      observed_state = coalesce(${update.observed_state}, u.observed_state),
      drift = coalesce(${update.drift === null ? null : JSON.stringify(update.drift)}::jsonb, u.drift),
      last_error = ${update.last_error === null ? null : JSON.stringify(update.last_error)}::jsonb,
      next_attempt_at = coalesce(${update.next_attempt_at}, u.next_attempt_at),
      finished_at = CASE WHEN u.status = 'pending' AND ${final} THEN now() ELSE u.finished_at END,
      attempt_open = false, lease_owner = NULL, lease_until = NULL
    FROM (SELECT status FROM target_steps WHERE account_id = ${step.account_id} AND id = ${step.id}) w
    WHERE u.account_id = ${step.account_id} AND u.id = ${step.id} AND u.lease_owner = ${owner}
      AND u.attempts = ${step.attempts}
    RETURNING u.status, w.status AS was`.execute(db);
  return result.rows[0];
}

/** Ends a step past its deadline that this claim holds (no attempt was made). */
export async function failExpired(db: Executor, step: Pick<StepRow, 'account_id' | 'id'>, owner: string) {
  const result = await db
    .updateTable('target_steps')
    .set({
      status: 'failed',
      finished_at: sql<Date>`now()` as unknown as Date,
      lease_owner: null,
      lease_until: null,
      last_error: JSON.stringify({ class: 'deadline', message: 'the step passed its deadline' }),
    })
    .where('account_id', '=', step.account_id)
    .where('id', '=', step.id)
    .where('lease_owner', '=', owner)
    .where('status', '=', 'pending')
    .returning('status')
    .executeTakeFirst();
  return result !== undefined;
}

/** The containment record, locked (a step's outcome changes its targets_state under this lock). */
export async function lockRecord(db: Executor, accountId: string, id: string) {
  return db
    .selectFrom('containments')
    .select(['id', 'account_id', 'targets_state', 'status', 'plan_id', 'cause', 'opened_by', 'closed_by'])
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
}

export async function findTargets(db: Executor, keys: Array<[string, string]>): Promise<TargetRow[]> {
  if (keys.length === 0) return [];
  const accounts = keys.map((k) => k[0]);
  const ids = keys.map((k) => k[1]);
  const result = await sql<TargetRow>`SELECT * FROM targets
    WHERE (account_id, id) IN (SELECT * FROM unnest(${accounts}::text[], ${ids}::text[]))`.execute(db);
  return result.rows;
}

/** Appends (or replaces) a plan's `targets` verdict: what its remote steps came to. */
export async function setTargetsVerdict(db: Executor, accountId: string, planId: string, verdict: object) {
  await sql`UPDATE plans SET verdicts = (SELECT coalesce(jsonb_agg(v), '[]'::jsonb)
      FROM jsonb_array_elements(verdicts) v WHERE v->>'step' <> 'targets')
      || jsonb_build_array(${JSON.stringify(verdict)}::jsonb)
    WHERE account_id = ${accountId} AND id = ${planId}`.execute(db);
}

/** The numbered `target.attempt` entries of these steps (index order), for explain. */
export async function listAttemptEntries(db: Executor, accountId: string, stepIds: string[]) {
  if (stepIds.length === 0) return [];
  const result = await sql<{ idx: number | null; target_id: string; details: Record<string, unknown> }>`
    SELECT idx, target_id, details FROM audit_entries
      WHERE account_id = ${accountId} AND action = 'target.attempt' AND target_id = ANY(${stepIds}::text[])
    UNION ALL
    SELECT NULL::bigint, target_id, details FROM audit_inbox
      WHERE account_id = ${accountId} AND action = 'target.attempt' AND target_id = ANY(${stepIds}::text[])
    ORDER BY 1 NULLS LAST`.execute(db);
  return result.rows.map((r) => ({ ...r, idx: r.idx === null ? null : Number(r.idx) }));
}

/** Extends this node's lease on a step whose attempt is still running; false when it no longer holds it. */
export async function extendLease(
  db: Executor,
  step: Pick<StepRow, 'account_id' | 'id' | 'attempts'>,
  owner: string,
  leaseMs: number,
): Promise<boolean> {
  const result = await db
    .updateTable('target_steps')
    .set({ lease_until: sql<Date>`now() + make_interval(secs => ${leaseMs / 1000})` as unknown as Date })
    .where('account_id', '=', step.account_id)
    .where('id', '=', step.id)
    .where('lease_owner', '=', owner)
    .where('attempts', '=', step.attempts)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}
