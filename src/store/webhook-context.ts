/**
 * What a webhook message says about the plan or containment its audit entry names: the subject and the
 * signal behind it. Read inside the audit sequencer's transaction, only for accounts with subscriptions.
 *
 * A non-human subject (a leaked secret's app, source or session: plans.subject_nhi, containments.subject_nhi)
 * is named too: the app's or source's name, an app's maker (oauth_apps.created_by, whom a subscriber routes
 * the event to), a session's person. Never a secret: a subject carries its secret's SHA-256 only.
 */
import { sql } from 'kysely';
import type { NhiSubject } from '../storage/schema.js';
import type { Executor } from './executor.js';
import { NHI_NAMES, nhiJoins } from './nhi-names.js';

export interface EventContext {
  plan_id: string | null;
  containment_id: string | null;
  user_id: string | null;
  email: string | null;
  display_name: string | null;
  signal_title: string | null;
  signal_severity: string | null;
  signal_source: string | null;
  /** A non-human subject, and what names it (null for a user's plan or record). */
  nhi?: NhiSubject | null;
  /** What the containment of a non-human subject did (disable_app, rotate_secret, revoke_tokens). */
  nhi_action?: string | null;
  /** The app's or the source's name. */
  nhi_name?: string | null;
  /** An app's maker (null: made by the operator, or not an app). */
  maker_id?: string | null;
  maker_email?: string | null;
  maker_name?: string | null;
  /** A session's person. */
  session_user_id?: string | null;
  session_email?: string | null;
  session_display_name?: string | null;
}

/** A plan with its subject and signal. */
export async function findPlanContext(
  db: Executor,
  accountId: string,
  planId: string,
): Promise<EventContext | undefined> {
  const { rows } = await sql<EventContext>`
    SELECT p.id AS plan_id, p.containment_id, u.id AS user_id, u.email, u.display_name,
           s.title AS signal_title, s.severity AS signal_severity, s.source_id AS signal_source,
           p.subject_nhi AS nhi, ${NHI_NAMES}
    FROM plans p
    LEFT JOIN users u ON u.account_id = p.account_id AND u.id = p.subject_user_id
    LEFT JOIN signals s ON s.account_id = p.account_id AND s.id = p.signal_id
    ${nhiJoins(sql`p.account_id`, sql`p.subject_nhi`)}
    WHERE p.account_id = ${accountId} AND p.id = ${planId}`.execute(db);
  return rows[0];
}

/**
 * A containment record with its subject and the signal of the plan that opened it: by id, or a user's
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
           s.title AS signal_title, s.severity AS signal_severity, s.source_id AS signal_source,
           c.subject_nhi AS nhi, c.action AS nhi_action, ${NHI_NAMES}
    FROM containments c
    LEFT JOIN users u ON u.account_id = c.account_id AND u.id = c.user_id
    LEFT JOIN plans p ON p.account_id = c.account_id AND p.id = c.plan_id
    LEFT JOIN signals s ON s.account_id = p.account_id AND s.id = p.signal_id
    ${nhiJoins(sql`c.account_id`, sql`c.subject_nhi`)}
    WHERE c.account_id = ${accountId}
      AND (c.id = ${id} OR (${id}::text IS NULL AND c.user_id = ${userId}))
    ORDER BY c.opened_at DESC
    LIMIT 1`.execute(db);
  return rows[0];
}

/**
 * A leaked secret (a `secret.leaked` entry names its owner and its SHA-256): the owner's names, and the
 * latest containment record of that secret, with its plan and signal, when a playbook opened one.
 */
export async function findLeakContext(db: Executor, accountId: string, subject: NhiSubject): Promise<EventContext> {
  const { rows } = await sql<EventContext>`
    SELECT c.plan_id, c.id AS containment_id, NULL AS user_id, NULL AS email, NULL AS display_name,
           s.title AS signal_title, s.severity AS signal_severity, s.source_id AS signal_source,
           c.action AS nhi_action, ${NHI_NAMES}
    FROM (SELECT ${accountId}::text AS account_id) k
    LEFT JOIN LATERAL (
      SELECT * FROM containments c WHERE c.account_id = k.account_id
        AND c.subject_nhi->>'token_hash' = ${subject.token_hash}
      ORDER BY c.opened_at DESC LIMIT 1
    ) c ON true
    LEFT JOIN plans p ON p.account_id = c.account_id AND p.id = c.plan_id
    LEFT JOIN signals s ON s.account_id = p.account_id AND s.id = p.signal_id
    ${nhiJoins(sql`k.account_id`, sql`${JSON.stringify(subject)}::jsonb`)}
  `.execute(db);
  return { ...rows[0]!, nhi: subject };
}
