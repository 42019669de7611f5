import { sql, type Kysely } from 'kysely';

// A password Cordon generated (an account's first owner, `users reset-credentials`, the demo) has been
// shown on a terminal or passed along: it must be replaced by one the person chose before the session
// can do anything else. Every password stored before this migration was generated (there was no way to
// choose one), so each of them must be changed too.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE users ADD COLUMN password_change_required boolean NOT NULL DEFAULT false`.execute(db);
  await sql`UPDATE users SET password_change_required = true WHERE password_hash IS NOT NULL`.execute(db);
}
