/**
 * The response engine's reads, shaped to keep a plan's transaction to a handful of round trips: one
 * statement stores the signal and locks its candidate subjects, one reads everything the guards decide
 * on. (See response/engine.ts for the order, and why the subject is locked before the rest is read.)
 */
import type { Insertable } from 'kysely';
import { sql } from 'kysely';
import type { SignalsTable, User, UserRole } from '../storage/schema.js';
import type { AutomationSettings, BreakerRow } from './automation.js';
import type { Executor } from './executor.js';
import type { PlaybookRow, PolicyRow } from './playbooks.js';

export interface SubjectHintValues {
  user_id?: string | undefined;
  email?: string | undefined;
  upn?: string | undefined;
  username?: string | undefined;
}

/** A user a hint matched; `hint` says which (0 user id, 1 email, 2 UPN, 3 username). */
export type Candidate = User & { hint: number };

/**
 * Stores `signal` (when given) unless (source, external id) is already there, and reads the users the
 * hints name, locking them unless `lock` is false. `stored` is undefined for a duplicate (or no signal).
 */
export async function admitSignal(
  db: Executor,
  accountId: string,
  hints: SubjectHintValues,
  options: { signal?: Insertable<SignalsTable> & { account_id: string; id: string }; lock: boolean },
): Promise<{ stored: { id: string; received_at: Date } | undefined; candidates: Candidate[] }> {
  const { signal } = options;
  const lower = (v: string | undefined) => (v === undefined ? null : v.toLowerCase());
  const [uid, email, upn, username] = [
    hints.user_id ?? null,
    lower(hints.email),
    lower(hints.upn),
    lower(hints.username),
  ];
  const insert = signal
    ? sql`INSERT INTO signals (account_id, id, source_id, external_id, type, title, severity, confidence, subject,
        tags, observed_at, raw, raw_truncated, attributes)
          VALUES (${signal.account_id}, ${signal.id}, ${signal.source_id}, ${signal.external_id}, ${signal.type},
            ${signal.title}, ${signal.severity},
                  ${signal.confidence}, ${signal.subject}::jsonb, ${signal.tags}::text[], ${signal.observed_at},
                    ${signal.raw}::jsonb, ${signal.raw_truncated}, ${signal.attributes ?? '{}'}::jsonb)
          ON CONFLICT (account_id, source_id, external_id) DO NOTHING RETURNING id, received_at`
    : sql`SELECT NULL::text AS id, NULL::timestamptz AS received_at WHERE false`;
  const result = await sql<Candidate & { stored_id: string | null; stored_at: Date | null }>`
    WITH sig AS (${insert}),
    cand AS (
      SELECT u.*, CASE WHEN u.id = ${uid} THEN 0 WHEN lower(u.email) = ${email} THEN 1
        WHEN lower(u.email) = ${upn} THEN 2 ELSE 3 END AS hint
      FROM users u
      WHERE u.account_id = ${accountId}
        AND (u.id = ${uid} OR lower(u.email) = ${email} OR lower(u.email) = ${upn} OR split_part(lower(u.email), '@',
          1) = ${username})
      LIMIT 8 ${options.lock ? sql`FOR UPDATE` : sql``}
    )
    SELECT s.stored_id, s.stored_at, c.* FROM (SELECT (SELECT id FROM sig) AS stored_id, (SELECT received_at FROM sig)
      AS stored_at) s
    LEFT JOIN cand c ON true`.execute(db);
  const first = result.rows[0]!;
  return {
    stored: first.stored_id === null ? undefined : { id: first.stored_id, received_at: first.stored_at! },
    candidates: result.rows.filter((r) => r.id !== null).map(({ stored_id: _id, stored_at: _at, ...user }) => user),
  };
}

export interface PlanContext {
  /** undefined: the account has no automation row yet (nothing configured, nothing paused). */
  automation: AutomationSettings | undefined;
  policy: PolicyRow | undefined;
  /**
   * The newest version of each playbook, with the current role of the person who applied it (null: the operator, or
   * gone).
   */
  playbooks: Array<PlaybookRow & { applier_role: UserRole | null }>;
  breakers: BreakerRow[];
  /** The subject's groups. */
  groups: Array<{ id: string; name: string }>;
  /** Active owners other than the subject. */
  otherActiveOwners: number;
  /** The newest open plan (pending or executed) of the subject per playbook (of a leaked secret: of that secret). */
  openPlans: Array<{ playbook_name: string; id: string; created_at: string }>;
  /** The database's clock, which the windows are measured on. */
  now: Date;
}

/**
 * Everything the guards decide on, in one read: the automation settings (locked `share` unless
 * `lock` is false, see guards/blast-radius.ts), the current policy and playbooks, tripped breakers,
 * and the subject's groups, fellow owners and open plans.
 */
export async function loadPlanContext(
  db: Executor,
  accountId: string,
  subject: { userId: string } | { nhiTokenHash: string },
  lock: boolean,
): Promise<PlanContext> {
  const subjectId = 'userId' in subject ? subject.userId : null;
  // A non-human subject's open plans are those about the same leaked secret (another secret of the same app
  // is another leak, and must die as well).
  const sameSubject =
    'userId' in subject
      ? sql`subject_user_id = ${subject.userId}`
      : sql`subject_nhi IS NOT NULL AND subject_nhi->>'token_hash' = ${subject.nhiTokenHash}`;
  const result = await sql<{
    automation: Record<string, unknown> | null;
    policy: Record<string, unknown> | null;
    playbooks: Array<Record<string, unknown>> | null;
    breakers: Array<Record<string, unknown>> | null;
    groups: Array<{ id: string; name: string }> | null;
    other_active_owners: number;
    open_plans: PlanContext['openPlans'] | null;
    now: Date;
  }>`
    SELECT
      (SELECT row_to_json(a) FROM (SELECT * FROM automation_settings WHERE account_id = ${accountId}
        ${lock ? sql`FOR SHARE` : sql``}) a) AS automation,
      (SELECT row_to_json(p) FROM (SELECT * FROM protection_policies WHERE account_id = ${accountId}
        ORDER BY version DESC LIMIT 1) p) AS policy,
      (SELECT json_agg(b) FROM (
         SELECT DISTINCT ON (name) p.*,
                (SELECT u.role FROM users u WHERE u.account_id = p.account_id AND p.created_by LIKE 'user:%'
                  AND u.id = substr(p.created_by, 6)) AS applier_role
         FROM playbooks p WHERE p.account_id = ${accountId} ORDER BY name, version DESC) b) AS playbooks,
      (SELECT json_agg(k) FROM breakers k WHERE k.account_id = ${accountId}) AS breakers,
      (SELECT json_agg(json_build_object('id', g.id, 'name', g.name) ORDER BY g.name)
         FROM group_members m JOIN groups g ON g.account_id = m.account_id AND g.id = m.group_id
         WHERE m.account_id = ${accountId} AND m.user_id = ${subjectId}) AS groups,
      (SELECT count(*)::int FROM users WHERE account_id = ${accountId} AND role = 'OWNER' AND state = 'ACTIVE'
        AND id IS DISTINCT FROM ${subjectId}) AS other_active_owners,
      (SELECT json_agg(o) FROM (SELECT DISTINCT ON (playbook_name) playbook_name, id, created_at FROM plans
         WHERE account_id = ${accountId} AND ${sameSubject} AND status IN ('executed',
           'pending_approval')
         ORDER BY playbook_name, created_at DESC) o) AS open_plans,
      now() AS now`.execute(db);
  const row = result.rows[0]!;
  const dated = <T>(record: Record<string, unknown>, keys: string[]) => {
    for (const key of keys) if (typeof record[key] === 'string') record[key] = new Date(record[key]);
    return record as T;
  };
  return {
    automation: row.automation ? dated<AutomationSettings>(row.automation, ['paused_at', 'updated_at']) : undefined,
    policy: row.policy ? dated<PolicyRow>(row.policy, ['created_at']) : undefined,
    playbooks: (row.playbooks ?? []).map((p) => dated<PlanContext['playbooks'][number]>(p, ['created_at'])),
    breakers: (row.breakers ?? []).map((b) => dated<BreakerRow>(b, ['tripped_at'])),
    groups: row.groups ?? [],
    otherActiveOwners: row.other_active_owners,
    openPlans: row.open_plans ?? [],
    now: row.now,
  };
}
