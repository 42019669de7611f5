import { sql, type Kysely } from 'kysely';

// The jti of every private_key_jwt client assertion (RFC 7523), kept until the assertion expires, so that
// a replayed assertion is refused on every node.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE client_assertion_jtis (
      account_id  text NOT NULL,
      client_id   text NOT NULL,
      jti         text NOT NULL,
      expires_at  timestamptz NOT NULL,
      PRIMARY KEY (account_id, client_id, jti)
    )`.execute(db);
  await sql`CREATE INDEX client_assertion_jtis_expiry ON client_assertion_jtis (expires_at)`.execute(db);
}
