import { sql, type Kysely } from 'kysely';

// Background work (restores, approval expiry, checkpoint signing …) claimed with FOR UPDATE SKIP LOCKED,
// so any number of nodes can share it. Insert a job in the same transaction as the change that needs it.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE jobs (
      id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      account_id    text,
      kind          text NOT NULL,
      payload       jsonb NOT NULL DEFAULT '{}',
      run_at        timestamptz NOT NULL DEFAULT now(),
      locked_until  timestamptz,
      locked_by     text,
      attempts      integer NOT NULL DEFAULT 0,
      max_attempts  integer NOT NULL DEFAULT 5,
      last_error    text,
      done_at       timestamptz,
      created_at    timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX jobs_due ON jobs (run_at, id) WHERE done_at IS NULL`.execute(db);
}
