import { sql, type Kysely } from 'kysely';

// Events tokens (issue 18): long-lived bearers for the Events API feed, in the JWT shape 1Password's own
// collectors read (aud = the host to call, `1password.com/fts` = the features). Each belongs to an app
// that holds audit:read, and the server trusts a token only through its row here (found by the SHA-256
// of the whole token), so that revoking it, disabling its app or taking audit:read away ends it on the
// next request, and rotating the signing keys does not.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE events_tokens (
      account_id  text NOT NULL REFERENCES accounts (id),
      id          text NOT NULL,
      app_id      text NOT NULL,
      token_hash  text NOT NULL,
      features    text[] NOT NULL,
      audience    text NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now(),
      created_by  text,
      revoked_at  timestamptz,
      PRIMARY KEY (account_id, id),
      FOREIGN KEY (account_id, app_id) REFERENCES oauth_apps (account_id, id)
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX events_tokens_hash ON events_tokens (token_hash)`.execute(db);
  await sql`CREATE INDEX events_tokens_of_app ON events_tokens (account_id, app_id, created_at)`.execute(db);
}
