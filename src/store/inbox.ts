/**
 * The console's approvals inbox (and one plan's page) in one statement: whether the viewer is an
 * approver, and each plan with its subject, signal and source, playbook version, requester, decisions
 * (with their people), and per remote target what it would do, as json. A viewer who is no approver
 * gets no plans.
 *
 * Per target (a pending suspension): the targets its playbook version names as they stand now (what
 * targets/steps.ts planTargets decides at execution, where the approval's digest binds their ids), and
 * the subject's mirrored identity on each; a restore: the targets its containment's suspension reached.
 */
import { sql, type RawBuilder } from 'kysely';
import type { PlanStatus } from '../storage/schema.js';
import { inApproverGroupSql } from './automation.js';
import type { Executor } from './executor.js';

/** Who looks: an approver by role, or else whatever the approver group says. */
export interface InboxViewer {
  accountId: string;
  userId: string;
  approverByRole: boolean;
}

export interface InboxPerson {
  id: string;
  email: string;
  name: string;
}

export interface InboxTargetLine {
  target: string;
  kind: string | null;
  would: 'suspend' | 'reactivate' | 'nothing';
  external_id: string | null;
  reason: string | null;
}

export interface InboxDecision {
  approver_id: string;
  name: string | null;
  email: string | null;
  decision: 'approve' | 'deny';
  reason: string;
  created_at: string;
}

export interface InboxPlan {
  id: string;
  action: string;
  status: PlanStatus;
  approvals_required: number;
  action_digest: string | null;
  verdicts: Array<{ step: string; outcome: string; reason: string; details?: Record<string, unknown> }>;
  created_at: string;
  expires_at: string | null;
  decided_at: string | null;
  requested_by: { type: string; id: string; made_by?: string } | null;
  /** The requesting person, or the requesting app's name and maker. */
  requester: { name: string | null; email: string | null; maker_name: string | null } | null;
  restore_reason: string | null;
  containment_id: string | null;
  subject_user_id: string | null;
  subject: (InboxPerson & { state: string }) | null;
  signal: {
    id: string;
    type: string;
    title: string;
    severity: string;
    confidence: number;
    source_id: string;
    source_name: string | null;
    observed_at: string;
    raw_truncated: boolean;
    /** Only when asked for (one plan's page). */
    raw?: unknown;
  } | null;
  playbook: { name: string; version: number; description: string | null; mode: string | null } | null;
  decisions: InboxDecision[];
  targets: InboxTargetLine[];
}

export interface Inbox {
  approver: boolean;
  plans: InboxPlan[];
}

/** The most pending plans the inbox shows at once. */
export const INBOX_LIMIT = 100;

const targetLines = sql`CASE
  WHEN p.action = 'suspend' AND p.status = 'pending_approval' THEN (
    SELECT coalesce(json_agg(json_build_object(
      'target', n.name, 'kind', t.kind,
      'would', CASE WHEN t.id IS NULL OR NOT t.enabled THEN 'nothing'
                    WHEN i.external_id IS NOT NULL OR t.kind = 'gtr' OR t.last_sync_at IS NULL THEN 'suspend'
                    ELSE 'nothing' END,
      'external_id', CASE WHEN t.id IS NULL OR NOT t.enabled THEN NULL
                          ELSE coalesce(i.external_id, CASE WHEN t.kind = 'gtr' OR t.last_sync_at IS NULL
                                                       THEN 'resolve by email at execution' END) END,
      'reason', CASE WHEN t.id IS NULL THEN 'no target is named ' || n.name
                     WHEN NOT t.enabled THEN n.name || ' is disabled'
                     WHEN i.external_id IS NULL AND t.kind <> 'gtr' AND t.last_sync_at IS NOT NULL
                       THEN 'not on ' || n.name END)
      ORDER BY n.name), '[]'::json)
    FROM (SELECT e.name FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(pb.document->'targets') = 'array'
                                                        THEN pb.document->'targets' ELSE '[]'::jsonb END) e(name)
           WHERE e.name <> 'cordon'
          UNION
          SELECT a.name FROM targets a
           WHERE a.account_id = p.account_id AND a.removed_at IS NULL AND a.enabled
             AND jsonb_typeof(pb.document->'targets') IS DISTINCT FROM 'array') n(name)
    LEFT JOIN targets t ON t.account_id = p.account_id AND t.name = n.name AND t.removed_at IS NULL
    LEFT JOIN LATERAL (
      SELECT ti.external_id FROM target_identities ti
       WHERE ti.account_id = t.account_id AND ti.target_id = t.id AND t.kind <> 'gtr'
         AND (lower(ti.email) = lower(u.email) OR lower(ti.user_name) = lower(u.email))
       ORDER BY (lower(ti.email) = lower(u.email)) IS TRUE DESC LIMIT 1) i ON true)
  WHEN p.action = 'restore' AND p.status = 'pending_approval' THEN (
    SELECT coalesce(json_agg(json_build_object(
      'target', t.name, 'kind', t.kind, 'would', 'reactivate', 'external_id', st.external_id,
      'reason', 'its suspension there: ' || st.status) ORDER BY t.name), '[]'::json)
    FROM target_steps st JOIN targets t ON t.account_id = st.account_id AND t.id = st.target_id
    WHERE st.account_id = p.account_id AND st.containment_id = p.containment_id AND st.operation = 'suspend')
  ELSE '[]'::json END`;

const person = (alias: string) =>
  sql`json_build_object('id', ${sql.ref(`${alias}.id`)}, 'email', ${sql.ref(`${alias}.email`)},
    'name', ${sql.ref(`${alias}.display_name`)})`;

function planJson(withRaw: boolean): RawBuilder<unknown> {
  return sql`json_build_object(
    'id', p.id, 'action', p.action, 'status', p.status, 'approvals_required', p.approvals_required,
    'action_digest', p.action_digest, 'verdicts', p.verdicts, 'created_at', p.created_at,
    'expires_at', p.expires_at, 'decided_at', p.decided_at, 'requested_by', p.requested_by,
    'restore_reason', p.restore_reason, 'containment_id', p.containment_id, 'subject_user_id', p.subject_user_id,
    'subject', CASE WHEN u.id IS NULL THEN NULL
                    ELSE (${person('u')})::jsonb || jsonb_build_object('state', u.state) END,
    'signal', CASE WHEN s.id IS NULL THEN NULL ELSE json_build_object(
      'id', s.id, 'type', s.type, 'title', s.title, 'severity', s.severity, 'confidence', s.confidence,
      'source_id', s.source_id, 'source_name', src.name, 'observed_at', s.observed_at,
      'raw_truncated', s.raw_truncated, 'raw', CASE WHEN ${withRaw} THEN s.raw END) END,
    'playbook', CASE WHEN p.playbook_name IS NULL THEN NULL ELSE json_build_object(
      'name', p.playbook_name, 'version', p.playbook_version, 'description', pb.document->>'description',
      'mode', pb.document->>'mode') END,
    'requester', CASE p.requested_by->>'type'
      WHEN 'user' THEN (SELECT json_build_object('name', r.display_name, 'email', r.email, 'maker_name', NULL)
                          FROM users r WHERE r.account_id = p.account_id AND r.id = p.requested_by->>'id')
      WHEN 'app' THEN (SELECT json_build_object('name', app.name, 'email', NULL, 'maker_name', mk.display_name)
                         FROM oauth_apps app
                         LEFT JOIN users mk ON mk.account_id = app.account_id AND mk.id = p.requested_by->>'made_by'
                        WHERE app.account_id = p.account_id AND app.client_id = p.requested_by->>'id') END,
    'decisions', (SELECT coalesce(json_agg(json_build_object(
        'approver_id', d.approver_id, 'name', du.display_name, 'email', du.email, 'decision', d.decision,
        'reason', d.reason, 'created_at', d.created_at) ORDER BY d.created_at, d.approver_id), '[]'::json)
      FROM plan_approvals d LEFT JOIN users du ON du.account_id = d.account_id AND du.id = d.approver_id
      WHERE d.account_id = p.account_id AND d.plan_id = p.id),
    'targets', ${targetLines})`;
}

/**
 * The pending plans (suspensions and restores), newest first, or (`planId`) that one plan whatever its
 * status (with its raw alert when asked): one statement, one row.
 */
export async function readInbox(db: Executor, viewer: InboxViewer, planId?: string, withRaw = false): Promise<Inbox> {
  const which = planId === undefined ? sql`p.status = 'pending_approval'` : sql`p.id = ${planId}`;
  const result = await sql<Inbox>`
    WITH viewer AS (
      SELECT ${viewer.approverByRole} OR ${inApproverGroupSql(viewer.accountId, viewer.userId)} AS approver),
    shown AS (
      SELECT p.* FROM plans p
       WHERE p.account_id = ${viewer.accountId} AND ${which} AND (SELECT approver FROM viewer)
       ORDER BY p.created_at DESC, p.id DESC LIMIT ${INBOX_LIMIT})
    SELECT (SELECT approver FROM viewer) AS approver,
           coalesce(json_agg(${planJson(withRaw)} ORDER BY p.created_at DESC, p.id DESC)
                      FILTER (WHERE p.id IS NOT NULL), '[]'::json) AS plans
      FROM (SELECT 1) one
      LEFT JOIN shown p ON true
      LEFT JOIN users u ON u.account_id = p.account_id AND u.id = p.subject_user_id
      LEFT JOIN signals s ON s.account_id = p.account_id AND s.id = p.signal_id
      LEFT JOIN signal_sources src ON src.account_id = s.account_id AND src.id = s.source_id
      LEFT JOIN playbooks pb ON pb.account_id = p.account_id AND pb.name = p.playbook_name
                            AND pb.version = p.playbook_version`.execute(db);
  return result.rows[0]!;
}
