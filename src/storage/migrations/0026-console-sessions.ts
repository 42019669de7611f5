import { sql, type Kysely } from 'kysely';

// Console sessions are a kind of their own: their token lives in the console's cookie and works only
// there (CSRF-checked, step-up before approving), never as a Bearer token on the API.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE sessions DROP CONSTRAINT sessions_kind_check,
    ADD CONSTRAINT sessions_kind_check CHECK (kind IN ('web', 'cli', 'api', 'console'))`.execute(db);
}
