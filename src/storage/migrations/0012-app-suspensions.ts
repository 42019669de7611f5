import { sql, type Kysely } from 'kysely';

// What an app's suspensions-per-hour cap counts: one row per suspension an app made, kept for the
// sliding hour (older rows are pruned by the next suspension of the same app).
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE app_suspensions (
      account_id  text NOT NULL,
      app_id      text NOT NULL,
      user_id     text NOT NULL,
      at          timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX app_suspensions_window ON app_suspensions (account_id, app_id, at)`.execute(db);
}
