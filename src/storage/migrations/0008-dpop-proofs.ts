import { sql, type Kysely } from 'kysely';

// The jti of every DPoP proof (RFC 9449 §11.1), per key, kept for the proof's acceptance window, so that a
// replayed proof is refused on every node.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE dpop_proof_jtis (
      jkt         text NOT NULL,
      jti         text NOT NULL,
      expires_at  timestamptz NOT NULL,
      PRIMARY KEY (jkt, jti)
    )`.execute(db);
  await sql`CREATE INDEX dpop_proof_jtis_expiry ON dpop_proof_jtis (expires_at)`.execute(db);
}
