import { sql, type Kysely } from 'kysely';

// The console (issue 17).
export async function up(db: Kysely<unknown>): Promise<void> {
  // Console sessions are a kind of their own: their token lives in the console's cookie and works only
  // there (CSRF-checked, step-up before approving), never as a Bearer token on the API.
  await sql`ALTER TABLE sessions DROP CONSTRAINT sessions_kind_check,
    ADD CONSTRAINT sessions_kind_check CHECK (kind IN ('web', 'cli', 'api', 'console'))`.execute(db);
  // The incidents timeline pages an account's signals newest first (keyset on received_at, id), and
  // the containment pages list an account's records, and a user's, newest first.
  await sql`CREATE INDEX signals_timeline ON signals (account_id, received_at DESC, id DESC)`.execute(db);
  await sql`CREATE INDEX containments_opened ON containments (account_id, opened_at DESC, id DESC)`.execute(db);
  await sql`CREATE INDEX containments_of_user ON containments (account_id, user_id, opened_at DESC)`.execute(db);
  await sql`CREATE INDEX plans_of_containment ON plans (account_id, containment_id)
    WHERE containment_id IS NOT NULL`.execute(db);
}
