import { sql, type Kysely } from 'kysely';

// Revoked access tokens, by jti, until they would have expired anyway. The resource guard reads this
// table on every request, so a revocation holds on the very next request on every node.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE revoked_tokens (
      account_id  text NOT NULL,
      jti         text NOT NULL,
      client_id   text NOT NULL,
      revoked_at  timestamptz NOT NULL DEFAULT now(),
      expires_at  timestamptz NOT NULL,
      PRIMARY KEY (account_id, jti)
    )`.execute(db);
}
