import { sql, type Kysely } from 'kysely';

// The audit log, written in two steps (audit/sequencer.ts):
// 1. A change inserts its entry into audit_inbox in its own transaction: no counter, no contention.
// 2. The sequencer moves committed inbox rows into audit_entries, numbering them densely per log
//    (audit_logs.size is the next index), in one statement, so an entry is in exactly one of the two.
// audit_entries is insert-only: an entry, once numbered, is never updated.
const ENTRY_COLUMNS = sql.raw(`
      recorded_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
      actor_type    text NOT NULL,
      actor_id      text NOT NULL,
      action        text NOT NULL,
      target_type   text NOT NULL,
      target_id     text NOT NULL,
      cause         jsonb NOT NULL DEFAULT '{}',
      authz         jsonb NOT NULL DEFAULT '{}',
      outcome       text NOT NULL CHECK (outcome IN ('changed', 'unchanged', 'refused', 'read')),
      details       jsonb NOT NULL DEFAULT '{}'`);

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE audit_logs (
      account_id  text PRIMARY KEY,
      size        bigint NOT NULL DEFAULT 0,
      updated_at  timestamptz NOT NULL DEFAULT now()
    )`.execute(db);

  await sql`
    CREATE TABLE audit_inbox (
      account_id    text NOT NULL,
      entry_id      bigint GENERATED ALWAYS AS IDENTITY,
      ${ENTRY_COLUMNS},
      PRIMARY KEY (account_id, entry_id)
    )`.execute(db);
  // The inbox is a queue: vacuum it eagerly so the sequencer's scan does not wade through dead rows.
  await sql`ALTER TABLE audit_inbox SET (autovacuum_vacuum_scale_factor = 0,
      autovacuum_vacuum_threshold = 1000)`.execute(db);

  await sql`
    CREATE TABLE audit_entries (
      account_id    text NOT NULL,
      idx           bigint NOT NULL,
      entry_id      bigint NOT NULL,
      sequenced_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
      ${ENTRY_COLUMNS},
      PRIMARY KEY (account_id, idx)
    )`.execute(db);
}
