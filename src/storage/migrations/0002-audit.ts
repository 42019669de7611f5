import { sql, type Kysely } from 'kysely';

// Audit entries are written with idx NULL in the same transaction as the change they record. The
// sequencer (audit/sequencer.ts) numbers committed entries shortly after commit, so writers never queue
// on a counter row; audit_logs.size is the next index to hand out, per log.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE audit_logs (
      account_id  text PRIMARY KEY,
      size        bigint NOT NULL DEFAULT 0,
      updated_at  timestamptz NOT NULL DEFAULT now()
    )`.execute(db);

  await sql`
    CREATE TABLE audit_entries (
      account_id    text NOT NULL,
      entry_id      bigint GENERATED ALWAYS AS IDENTITY,
      idx           bigint,
      recorded_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
      sequenced_at  timestamptz,
      actor_type    text NOT NULL,
      actor_id      text NOT NULL,
      action        text NOT NULL,
      target_type   text NOT NULL,
      target_id     text NOT NULL,
      cause         jsonb NOT NULL DEFAULT '{}',
      authz         jsonb NOT NULL DEFAULT '{}',
      outcome       text NOT NULL CHECK (outcome IN ('changed', 'unchanged', 'refused', 'read')),
      details       jsonb NOT NULL DEFAULT '{}',
      PRIMARY KEY (account_id, entry_id)
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX audit_entries_idx_key ON audit_entries (account_id, idx)`.execute(db);
  await sql`CREATE INDEX audit_entries_unsequenced ON audit_entries (account_id, entry_id) WHERE idx IS NULL`.execute(db);
  await sql`CREATE INDEX audit_entries_target ON audit_entries (account_id, target_type, target_id)`.execute(db);
}
