import { sql, type Kysely } from 'kysely';

// Leak reports (issue 19, POST /v1/secret-scanning/reports): a reported secret is looked up by its hash,
// one statement per kind for the whole report, so every kind needs an index on the hash it is stored as.
// - Client secrets were found by the app's row alone: their hash gets an index.
// - HMAC secrets of signal sources are sealed (the server signs with them), so they get a SHA-256 hex
//   beside the sealed value, filled for sources made from now on; older ones are matched by opening them
//   (response/leaks/find-leaked.ts), which costs one pass over the few sources that lack the hash.
// - A signed report is accepted once: the hash of its signature (normalised) and body is kept for the
//   replay window.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX oauth_apps_secret_hash ON oauth_apps (secret_hash) WHERE secret_hash IS NOT NULL`.execute(db);
  await sql`ALTER TABLE signal_sources ADD COLUMN secret_hash text`.execute(db);
  await sql`
    CREATE INDEX signal_sources_secret_hash ON signal_sources (secret_hash) WHERE secret_hash IS NOT NULL`.execute(db);
  await sql`
    CREATE TABLE secret_scanning_replays (
      report_hash text PRIMARY KEY,
      expires_at  timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX secret_scanning_replays_expiry ON secret_scanning_replays (expires_at)`.execute(db);
}
