import { sql, type Kysely } from 'kysely';

// Token-signing keys, shared by every node (a system table, not owned by an account). The private key is
// stored encrypted (AES-256-GCM under the key-encryption key) and is the only thing trusted: the public key
// served in the JWKS is derived from it. public_jwk is kept for people reading the table.
// The newest key that is not retired signs; retired keys still verify until `retired_at + token lifetime`.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE signing_keys (
      kid               text PRIMARY KEY,
      alg               text NOT NULL CHECK (alg = 'ES256'),
      public_jwk        jsonb NOT NULL,
      private_key_enc   text NOT NULL,
      created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
      retired_at        timestamptz
    )`.execute(db);
}
