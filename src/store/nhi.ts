/**
 * SQL of containing non-human identities (response/nhi.ts): an app's live tokens revoked from its
 * `token.issue` entries, what the app did before a leak, its record, a source's credential, the new
 * secret a record keeps until it is read once.
 */
import { sql } from 'kysely';
import type { Insertable, Updateable } from 'kysely';
import type { ContainmentsTable, NhiSubject, SignalSourcesTable } from '../storage/schema.js';
import type { ContainmentRow } from './containments.js';
import type { Executor } from './executor.js';

/** The longest access-token lifetime (CORDON_ACCESS_TOKEN_TTL's maximum), with room for clock skew. */
const LONGEST_TOKEN_SECONDS = 86_400 + 300;

/** An app's entries (committed, numbered or still in the inbox) by actor, since a time. */
function appEntries(accountId: string, actorIds: string[], since: string) {
  const part = (table: 'audit_entries' | 'audit_inbox') => sql`
    SELECT action, target_type, target_id, outcome, details, recorded_at FROM ${sql.table(table)}
    WHERE account_id = ${accountId} AND actor_type = 'app' AND actor_id = ANY(${actorIds}::text[])
      AND recorded_at > ${sql.raw(since)}`;
  return sql`(${part('audit_entries')} UNION ALL ${part('audit_inbox')})`;
}

/** The app's changes since a time (its Users API calls that changed something, and the like; not its tokens). */
function changesSql(app: { account_id: string; id: string; client_id: string }, since: Date) {
  return sql`SELECT e.action, e.target_type, e.target_id, e.recorded_at AS at
    FROM ${appEntries(app.account_id, [app.id, app.client_id], `'${since.toISOString()}'::timestamptz`)} e
    WHERE e.outcome = 'changed' AND e.action <> 'token.issue'`;
}

export interface AppChange {
  action: string;
  target: { type: string; id: string };
  at: string;
}

interface ChangesRow {
  change_count: number;
  listed: Array<{ action: string; type: string; id: string; at: string }>;
}

/** The aggregate of a `changes` CTE: how many, and the first `limit`, oldest first. */
const changesAggregate = (limit: number) => sql`
  (SELECT count(*)::int FROM changes) AS change_count,
  (SELECT coalesce(json_agg(json_build_object('action', l.action, 'type', l.target_type, 'id', l.target_id,
     'at', l.at) ORDER BY l.at), '[]') FROM (SELECT * FROM changes ORDER BY at LIMIT ${limit}) l) AS listed`;

const changesOf = (row: ChangesRow | undefined) => ({
  count: row?.change_count ?? 0,
  changes: (row?.listed ?? []).map((c) => ({
    action: c.action,
    target: { type: c.type, id: c.id },
    at: new Date(c.at).toISOString(),
  })),
});

/**
 * What the app changed since `since`: the first `limit`, oldest first, and how many in all. The app acts
 * under its id or its client id.
 */
export async function appChangesSince(
  db: Executor,
  app: { account_id: string; id: string; client_id: string },
  since: Date,
  limit: number,
): Promise<{ count: number; changes: AppChange[] }> {
  const { rows } = await sql<ChangesRow>`
    WITH changes AS (${changesSql(app, since)}) SELECT ${changesAggregate(limit)}`.execute(db);
  return changesOf(rows[0]);
}

export interface AppContained {
  /** The jtis newly revoked. */
  jtis: string[];
  /** Since when the app's tokens from before are refused (null: the app is gone). */
  cutOffAt: Date | null;
  /** The app's row as the statement left it. */
  secretHash: string | null;
  disabled: boolean;
  /** What the app changed since `before.since`. */
  before: { count: number; changes: AppChange[] };
}

/**
 * Contains an app in one statement: every access token that has not expired revoked, read from its
 * `token.issue` entries; every token issued before now refused from now on (`tokens_not_before`: one whose
 * issue was not yet recorded as this ran is refused by its `iat`, store/tokens.ts); the app's `changes`
 * (disabled, a new secret) made; and what the app changed since `before.since` read.
 */
export async function containApp(
  db: Executor,
  app: { account_id: string; id: string; client_id: string },
  changes: { disabled_at?: Date; secret_hash?: string; secret_rotated_at?: Date },
  before: { since: Date; limit: number },
): Promise<AppContained> {
  const since = `now() - make_interval(secs => ${LONGEST_TOKEN_SECONDS})`;
  const { rows } = await sql<
    { jtis: string[]; cut_off_at: Date; secret_hash: string | null; disabled_at: Date | null } & ChangesRow
  >`
    WITH cutoff AS (
      UPDATE oauth_apps SET tokens_not_before = now(), updated_at = now(),
        disabled_at = coalesce(${changes.disabled_at ?? null}::timestamptz, disabled_at),
        secret_hash = coalesce(${changes.secret_hash ?? null}::text, secret_hash),
        secret_rotated_at = coalesce(${changes.secret_rotated_at ?? null}::timestamptz, secret_rotated_at)
      WHERE account_id = ${app.account_id} AND id = ${app.id}
      RETURNING tokens_not_before, secret_hash, disabled_at
    ), issued AS (
      SELECT DISTINCT e.details->>'jti' AS jti, (e.details->>'expires_at')::timestamptz AS expires_at
      FROM ${appEntries(app.account_id, [app.id], since)} e
      WHERE e.action = 'token.issue' AND e.outcome = 'changed' AND e.details ? 'jti'
    ), revoked AS (
      INSERT INTO revoked_tokens (account_id, jti, client_id, expires_at)
      SELECT ${app.account_id}, i.jti, ${app.client_id}, i.expires_at FROM issued i
      WHERE i.expires_at > now()
      ON CONFLICT (account_id, jti) DO NOTHING
      RETURNING jti
    ), changes AS (${changesSql(app, before.since)})
    SELECT c.tokens_not_before AS cut_off_at, c.secret_hash, c.disabled_at,
      (SELECT coalesce(json_agg(jti ORDER BY jti), '[]') FROM revoked) AS jtis, ${changesAggregate(before.limit)}
    FROM cutoff c`.execute(db);
  const row = rows[0];
  return {
    jtis: [...(row?.jtis ?? [])].sort(),
    cutOffAt: row ? new Date(row.cut_off_at) : null,
    secretHash: row?.secret_hash ?? null,
    disabled: row?.disabled_at != null,
    before: changesOf(row),
  };
}

/** Revokes the app's events tokens not yet revoked; their ids. */
export async function revokeEventsTokensOfApp(db: Executor, accountId: string, appId: string): Promise<string[]> {
  const rows = await db
    .updateTable('events_tokens')
    .set({ revoked_at: sql<Date>`now()` as unknown as Date })
    .where('account_id', '=', accountId)
    .where('app_id', '=', appId)
    .where('revoked_at', 'is', null)
    .returning('id')
    .execute();
  return rows.map((r) => r.id).sort();
}

export function lockSource(db: Executor, accountId: string, id: string) {
  return db
    .selectFrom('signal_sources')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
}

/** Replaces a source's credential (and enables it when `enable`): a URL token's hash, or an HMAC secret. */
export function replaceSourceCredential(
  db: Executor,
  accountId: string,
  id: string,
  credential: { token_hash: string } | { secret_enc: string; secret_hash: string },
  enable: boolean,
) {
  return db
    .updateTable('signal_sources')
    .set({ ...credential, ...(enable ? { disabled_at: null } : {}) } as Updateable<SignalSourcesTable>)
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export function insertNhiContainment(
  db: Executor,
  row: Omit<Insertable<ContainmentsTable>, 'user_id' | 'snapshot' | 'locked'> & { subject_nhi: string },
): Promise<ContainmentRow> {
  return db
    .insertInto('containments')
    .values({ ...row, user_id: null, snapshot: '{}', locked: false })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Closes an open record of a non-human identity, keeping (or replacing) its sealed new secret. */
export function closeNhiContainment(
  db: Executor,
  accountId: string,
  id: string,
  closed: { reason: 'restored' | 'false_positive'; by: string; secretEnc: string | null; details: string },
): Promise<ContainmentRow> {
  return db
    .updateTable('containments')
    .set({
      status: 'closed',
      close_reason: closed.reason,
      closed_by: closed.by,
      closed_at: sql<Date>`now()` as unknown as Date,
      secret_enc: closed.secretEnc,
      details: closed.details,
    })
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Takes a record's sealed new secret, leaving none: undefined when there is none (or no such record). */
export async function takeContainmentSecret(
  db: Executor,
  accountId: string,
  id: string,
): Promise<{ secret_enc: string; subject_nhi: NhiSubject } | undefined> {
  const { rows } = await sql<{ secret_enc: string; subject_nhi: NhiSubject }>`
    WITH taken AS (
      SELECT secret_enc FROM containments
      WHERE account_id = ${accountId} AND id = ${id} AND secret_enc IS NOT NULL FOR UPDATE
    )
    UPDATE containments c SET secret_enc = NULL FROM taken
    WHERE c.account_id = ${accountId} AND c.id = ${id}
    RETURNING taken.secret_enc, c.subject_nhi`.execute(db);
  return rows[0];
}
