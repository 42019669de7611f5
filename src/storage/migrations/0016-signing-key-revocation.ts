import { sql, type Kysely } from 'kysely';

// A leaked signing key is revoked: unlike a retired key (which verifies the tokens it signed until they
// expire), a revoked key verifies nothing from the moment it is revoked, on every node. The resource
// guard reads this column with each token's standing, so a cached verification cannot outlive it.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE signing_keys ADD COLUMN revoked_at timestamptz`.execute(db);
}
