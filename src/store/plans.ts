import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import type { PlansTable } from '../storage/schema.js';
import { insertEntriesSql, type AuditEntryValues } from './audit.js';
import type { Executor } from './executor.js';

export type PlanRow = Selectable<PlansTable>;

/**
 * Stores a plan and the audit entries that record it, in one statement. With `verifySuspended`, only if
 * that user is suspended and holds no live session, as this transaction sees it (the statement's
 * snapshot includes the suspension made before it): undefined when not.
 */
export async function insertPlanWithEntries(
  db: Executor,
  row: PlanValues,
  entries: AuditEntryValues[],
  verifySuspended?: string,
): Promise<PlanRow | undefined> {
  const verified =
    verifySuspended === undefined
      ? sql`true`
      : sql`EXISTS (SELECT 1 FROM users u WHERE u.account_id = ${row.account_id} AND u.id = ${verifySuspended}
          AND u.state = 'SUSPENDED'
                  AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.account_id = u.account_id AND s.user_id = u.id
                    AND s.revoked_at IS NULL
                                  AND (s.expires_at IS NULL OR s.expires_at > now())))`;
  const result = await sql<PlanRow>`
    WITH verified AS (SELECT ${verified} AS ok), entries AS
      (${insertEntriesSql(entries, sql`(SELECT ok FROM verified)`)})
    INSERT INTO plans (account_id, id, signal_id, subject_user_id, playbook_name, playbook_version, policy_version,
      action, mode,
                       approvals_required, status, action_digest, verdicts, restore_after_seconds, held_by, executed_at,
                       requested_by, expires_at, lock_containment, containment_id, restore_reason, subject_nhi)
    SELECT ${row.account_id}, ${row.id}, ${row.signal_id}, ${row.subject_user_id}, ${row.playbook_name},
      ${row.playbook_version}, ${row.policy_version},
           ${row.action}, ${row.mode}, ${row.approvals_required}, ${row.status}, ${row.action_digest},
             ${row.verdicts}::jsonb,
           ${row.restore_after_seconds}, ${row.held_by}::text[], ${row.executed_at},
           ${row.requested_by}::jsonb, ${row.expires_at}, ${row.lock_containment}, ${row.containment_id},
             ${row.restore_reason}, ${row.subject_nhi}::jsonb
    WHERE (SELECT ok FROM verified)
    RETURNING *`.execute(db);
  return result.rows[0];
}

/** A plan to store: a row without its creation time, the verdicts and requester as JSON text. */
export type PlanValues = Omit<PlanRow, 'created_at' | 'verdicts' | 'requested_by' | 'subject_nhi'> & {
  verdicts: string;
  requested_by: string;
  /** JSON text (null: the subject is a user, or none). */
  subject_nhi: string | null;
};

export function findPlan(db: Executor, accountId: string, id: string): Promise<PlanRow | undefined> {
  return db.selectFrom('plans').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
}

/** The restore plan of a containment that waits for approvals, if any. */
export function findPendingRestorePlan(
  db: Executor,
  accountId: string,
  containmentId: string,
): Promise<PlanRow | undefined> {
  return db
    .selectFrom('plans')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('containment_id', '=', containmentId)
    .where('action', '=', 'restore')
    .where('status', '=', 'pending_approval')
    .executeTakeFirst();
}

export function findPlanOfSignal(db: Executor, accountId: string, signalId: string): Promise<PlanRow | undefined> {
  return db
    .selectFrom('plans')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('signal_id', '=', signalId)
    .executeTakeFirst();
}

/** The subjects of the plans a trip (named by the plan that tripped the breaker) held back. */
export async function listHeldSubjects(db: Executor, accountId: string, tripPlanId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('plans')
    .select('subject_user_id')
    .where('account_id', '=', accountId)
    .where(sql<boolean>`held_by <> '{}' AND ${tripPlanId} = ANY(held_by)`)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map((r) => r.subject_user_id!);
}

export interface ListPlansQuery {
  accountId: string;
  status?: string | undefined;
  limit: number;
}

export function listPlans(db: Executor, q: ListPlansQuery): Promise<PlanRow[]> {
  let query = db.selectFrom('plans').selectAll().where('account_id', '=', q.accountId);
  if (q.status) query = query.where('status', '=', q.status as PlanRow['status']);
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
}

/**
 * The restore plans of a containment that ran or wait for approvals, newest first (the subject's key in
 * plans_open finds them).
 */
export function listRestorePlansOf(
  db: Executor,
  accountId: string,
  userId: string | null,
  containmentId: string,
): Promise<PlanRow[]> {
  return db
    .selectFrom('plans')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('subject_user_id', userId === null ? 'is' : '=', userId)
    .where('status', 'in', ['executed', 'pending_approval'])
    .where('action', '=', 'restore')
    .where('containment_id', '=', containmentId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .execute();
}

/** A plan waiting for approval, with who it is about and the signal behind it (the approvals list). */
export type PendingPlanRow = PlanRow & {
  subject_email: string | null;
  subject_name: string | null;
  signal_title: string | null;
  signal_severity: string | null;
  signal_source_id: string | null;
  approvals_given: number;
};

/** The plans waiting for approval, newest first, each with its subject's name and its signal's title. */
export function listPendingPlans(db: Executor, accountId: string, limit: number): Promise<PendingPlanRow[]> {
  return db
    .selectFrom('plans as p')
    .leftJoin('users as u', (join) =>
      join.onRef('u.account_id', '=', 'p.account_id').onRef('u.id', '=', 'p.subject_user_id'),
    )
    .leftJoin('signals as s', (join) =>
      join.onRef('s.account_id', '=', 'p.account_id').onRef('s.id', '=', 'p.signal_id'),
    )
    .selectAll('p')
    .select([
      'u.email as subject_email',
      'u.display_name as subject_name',
      's.title as signal_title',
      's.severity as signal_severity',
      's.source_id as signal_source_id',
      (eb) =>
        eb
          .selectFrom('plan_approvals as a')
          .select((c) => c.fn.countAll<string>().as('n'))
          .whereRef('a.account_id', '=', 'p.account_id')
          .whereRef('a.plan_id', '=', 'p.id')
          .where('a.decision', '=', 'approve')
          .as('approvals_given'),
    ])
    .where('p.account_id', '=', accountId)
    .where('p.status', '=', 'pending_approval')
    .orderBy('p.created_at', 'desc')
    .orderBy('p.id', 'desc')
    .limit(limit)
    .execute()
    .then((rows) => rows.map((r) => ({ ...r, approvals_given: Number(r.approvals_given ?? 0) })));
}
