/**
 * The incidents timeline: each signal with the plan it got and the containment that plan opened, newest
 * first, in one statement. Filters: the state (a plan status, or `contained` / `restored` for the
 * containment), a time range on when the signal arrived, the subject's email (a prefix), the playbook.
 * Keyset pagination on (received_at, id): the cursor is the last row's, to the microsecond.
 */
import { sql, type RawBuilder } from 'kysely';
import type { Executor } from './executor.js';

export const INCIDENT_STATES = [
  'pending_approval',
  'executed',
  'contained',
  'restored',
  'denied',
  'expired',
  'void',
  'refused',
  'duplicate',
  'no_action',
  'notified',
  'failed',
] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

export interface IncidentQuery {
  accountId: string;
  state?: IncidentState | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  /** The start of the subject's email, any case. */
  subject?: string | undefined;
  playbook?: string | undefined;
  /** Rows older than this cursor (a row's `cursor`). */
  before?: { at: string; id: string } | undefined;
  limit: number;
}

export interface IncidentRow {
  signal_id: string;
  received_at: Date | string;
  /** The row's place in the timeline: received_at to the microsecond, UTC. */
  cursor_at: string;
  title: string;
  severity: string;
  confidence: number;
  source_name: string | null;
  source_id: string;
  plan_id: string | null;
  plan_status: string | null;
  action: string | null;
  playbook_name: string | null;
  playbook_version: number | null;
  decided_at: Date | string | null;
  subject_id: string | null;
  subject_email: string | null;
  subject_name: string | null;
  containment_id: string | null;
  containment_status: string | null;
  close_reason: string | null;
  targets_state: string | null;
  closed_at: Date | string | null;
}

const likePrefix = (text: string) => `${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

function stateFilter(state: IncidentState): RawBuilder<unknown> {
  if (state === 'contained') return sql`c.status = 'open'`;
  if (state === 'restored') return sql`c.status = 'closed'`;
  return sql`p.status = ${state}`;
}

/** One page of the timeline (`limit` rows, and whether there are older ones). */
export async function listIncidents(db: Executor, q: IncidentQuery): Promise<{ rows: IncidentRow[]; more: boolean }> {
  const filters: RawBuilder<unknown>[] = [sql`s.account_id = ${q.accountId}`];
  if (q.state) filters.push(stateFilter(q.state));
  if (q.from) filters.push(sql`s.received_at >= ${q.from}`);
  if (q.to) filters.push(sql`s.received_at < ${q.to}`);
  if (q.subject) filters.push(sql`lower(u.email) LIKE ${likePrefix(q.subject)}`);
  if (q.playbook) filters.push(sql`p.playbook_name = ${q.playbook}`);
  if (q.before) filters.push(sql`(s.received_at, s.id) < (${q.before.at}::timestamptz, ${q.before.id})`);
  const result = await sql<IncidentRow>`
    SELECT s.id AS signal_id, s.received_at,
           to_char(s.received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at,
           s.title, s.severity, s.confidence, s.source_id, src.name AS source_name,
           p.id AS plan_id, p.status AS plan_status, p.action, p.playbook_name, p.playbook_version, p.decided_at,
           u.id AS subject_id, u.email AS subject_email, u.display_name AS subject_name,
           c.id AS containment_id, c.status AS containment_status, c.close_reason, c.targets_state, c.closed_at
      FROM signals s
      LEFT JOIN signal_sources src ON src.account_id = s.account_id AND src.id = s.source_id
      LEFT JOIN plans p ON p.account_id = s.account_id AND p.signal_id = s.id
      LEFT JOIN users u ON u.account_id = p.account_id AND u.id = p.subject_user_id
      LEFT JOIN containments c ON c.account_id = p.account_id AND c.plan_id = p.id
     WHERE ${sql.join(filters, sql` AND `)}
     ORDER BY s.received_at DESC, s.id DESC
     LIMIT ${q.limit + 1}`.execute(db);
  return { rows: result.rows.slice(0, q.limit), more: result.rows.length > q.limit };
}
