import { sql, type Kysely } from 'kysely';

// Human sign-in: a user's TOTP seed (sealed under the KEK), the last TOTP step accepted (a code is usable
// once), and the failed-attempt counter behind the backoff. A sign-in session carries the SHA-256 of its
// opaque token and an absolute expiry. None of these columns is indexed, so suspension stays a HOT update.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE users
      ADD COLUMN totp_secret_enc        text,
      ADD COLUMN totp_last_step         integer NOT NULL DEFAULT 0,
      ADD COLUMN sign_in_failures       integer NOT NULL DEFAULT 0,
      ADD COLUMN sign_in_blocked_until  timestamptz`.execute(db);
  await sql`
    ALTER TABLE sessions
      ADD COLUMN token_hash  text,
      ADD COLUMN expires_at  timestamptz`.execute(db);
  await sql`CREATE UNIQUE INDEX sessions_by_token ON sessions (token_hash) WHERE token_hash IS NOT NULL`.execute(db);
}
