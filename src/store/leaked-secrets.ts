/**
 * SQL of leak reports: the live holders of reported secrets, one statement per kind for a whole report
 * (`= ANY($1)` over the hashes, each on an index), and the replay claims of reports.
 */
import { sql } from 'kysely';
import { insertEntriesSql, type AuditEntryValues } from './audit.js';
import type { Executor } from './executor.js';

/**
 * Enabled apps by their client secret's `sha256$<base64url>` (oauth/client-secret.ts); a rotated secret's hash
 * is gone, and a disabled app is never enabled again with the same secret.
 */
export function findAppsBySecretHash(db: Executor, hashes: string[]) {
  return db
    .selectFrom('oauth_apps')
    .select(['account_id', 'id', 'secret_hash'])
    .where('secret_hash', '=', sql<string>`ANY(${hashes}::text[])`)
    .where('disabled_at', 'is', null)
    .execute();
}

/**
 * Enabled sources by the SHA-256 hex of their credential: `token_hash` for url_token sources, `secret_hash` for
 * hmac sources (those made since migration 0029).
 */
export function findSourcesByHash(db: Executor, column: 'token_hash' | 'secret_hash', hashes: string[]) {
  return db
    .selectFrom('signal_sources')
    .select(['account_id', 'id', `${column} as hash`])
    .where(column, '=', sql<string>`ANY(${hashes}::text[])`)
    .where('disabled_at', 'is', null)
    .execute();
}

/** Enabled hmac sources made before migration 0029, whose secret is only sealed. */
export function listUnhashedHmacSources(db: Executor) {
  return db
    .selectFrom('signal_sources')
    .select(['account_id', 'id', 'secret_enc'])
    .where('auth', '=', 'hmac')
    .where('secret_hash', 'is', null)
    .where('disabled_at', 'is', null)
    .execute();
}

/** Live sessions (not revoked, not expired) by their token's SHA-256 base64url (auth/sign-in.ts). */
export function findSessionsByTokenHash(db: Executor, hashes: string[]) {
  return db
    .selectFrom('sessions')
    .select(['account_id', 'id', 'user_id', 'token_hash as hash'])
    .where('token_hash', '=', sql<string>`ANY(${hashes}::text[])`)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .execute();
}

/**
 * Events tokens not revoked, of an enabled app, by the whole token's SHA-256 base64url (oauth/events-tokens.ts):
 * a disabled app's events tokens stop working with it.
 */
export function findEventsTokensByHash(db: Executor, hashes: string[]) {
  return db
    .selectFrom('events_tokens as t')
    .innerJoin('oauth_apps as a', (join) =>
      join.onRef('a.account_id', '=', 't.account_id').onRef('a.id', '=', 't.app_id'),
    )
    .select(['t.account_id', 't.id', 't.app_id', 't.token_hash as hash'])
    .where('t.token_hash', '=', sql<string>`ANY(${hashes}::text[])`)
    .where('t.revoked_at', 'is', null)
    .where('a.disabled_at', 'is', null)
    .execute();
}

const SWEEP_EVERY = 16;

/**
 * Claims a report for the replay window and, when it is not a replay, writes its audit entries in the same
 * statement; false when it was already claimed (a replay: nothing written).
 */
export async function claimReport(
  db: Executor,
  reportHash: string,
  windowSeconds: number,
  entries: AuditEntryValues[],
): Promise<boolean> {
  // Expired claims go (on their index) with one report in SWEEP_EVERY, so that the table holds about one window.
  if (Math.random() < 1 / SWEEP_EVERY)
    await db
      .deleteFrom('secret_scanning_replays')
      .where('expires_at', '<', sql<Date>`now()`)
      .execute();
  // A claim past its window that no sweep removed yet is taken again.
  const { rows } = await sql<{ claimed: boolean }>`
    WITH claim AS (
      INSERT INTO secret_scanning_replays (report_hash, expires_at)
      VALUES (${reportHash}, now() + make_interval(secs => ${windowSeconds}))
      ON CONFLICT (report_hash) DO UPDATE SET expires_at = EXCLUDED.expires_at
        WHERE secret_scanning_replays.expires_at < now()
      RETURNING report_hash
    ), entries AS (${insertEntriesSql(entries, sql`EXISTS (SELECT 1 FROM claim)`)})
    SELECT EXISTS (SELECT 1 FROM claim) AS claimed`.execute(db);
  return rows[0]!.claimed;
}
