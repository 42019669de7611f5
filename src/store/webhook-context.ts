/**
 * What a webhook message says about the plan or containment its audit entry names: the subject and the
 * signal behind it. Read inside the audit sequencer's transaction, only for accounts with subscriptions.
 */
import { sql } from 'kysely';
import type { Executor } from './executor.js';

export interface EventContext {
  plan_id: string | null;
  containment_id: string | null;
  user_id: string | null;
  email: string | null;
  display_name: string | null;
  signal_title: string | null;
  signal_severity: string | null;
  signal_source: string | null;
}

/** A plan with its subject and signal. */
export async function findPlanContext(
  db: Executor,
  accountId: string,
  planId: string,
): Promise<EventContext | undefined> {
  const { rows } = await sql<EventContext>`
    SELECT p.id AS plan_id, p.containment_id, u.id AS user_id, u.email, u.display_name,
           s.title AS signal_title, s.severity AS signal_severity, s.source_id AS signal_source
    FROM plans p
    LEFT JOIN users u ON u.account_id = p.account_id AND u.id = p.subject_user_id
    LEFT JOIN signals s ON s.account_id = p.account_id AND s.id = p.signal_id
    WHERE p.account_id = ${accountId} AND p.id = ${planId}`.execute(db);
  return rows[0];
}

/**
 * A containment record with its user and the signal of the plan that opened it: by id, or a user's
 * latest record (a suspension's entry names the user, and the record it opened is the user's latest).
 */
export async function findContainmentContext(
  db: Executor,
  accountId: string,
  by: { containmentId: string } | { userId: string },
): Promise<EventContext | undefined> {
  const id = 'containmentId' in by ? by.containmentId : null;
  const userId = 'userId' in by ? by.userId : null;
  const { rows } = await sql<EventContext>`
    SELECT c.plan_id, c.id AS containment_id, c.user_id, u.email, u.display_name,
           s.title AS signal_title, s.severity AS signal_severity, s.source_id AS signal_source
    FROM containments c
    LEFT JOIN users u ON u.account_id = c.account_id AND u.id = c.user_id
    LEFT JOIN plans p ON p.account_id = c.account_id AND p.id = c.plan_id
    LEFT JOIN signals s ON s.account_id = p.account_id AND s.id = p.signal_id
    WHERE c.account_id = ${accountId}
      AND (c.id = ${id} OR (${id}::text IS NULL AND c.user_id = ${userId}))
    ORDER BY c.opened_at DESC
    LIMIT 1`.execute(db);
  return rows[0];
}
