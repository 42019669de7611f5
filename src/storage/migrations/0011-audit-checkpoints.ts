import { sql, type Kysely } from 'kysely';

// Signed checkpoints of every audit log (C2SP tlog-checkpoint in a signed note), one per size it was
// signed at, insert-only. And the checkpoint key when it is kept in the database (CORDON_CHECKPOINT_KEY_
// STORAGE=database): its private half sealed under the KEK.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE audit_checkpoints (
      account_id  text NOT NULL,
      size        bigint NOT NULL CHECK (size > 0),
      root        bytea NOT NULL CHECK (length(root) = 32),
      note        text NOT NULL,
      signed_at   timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (account_id, size)
    )`.execute(db);
  await sql`
    CREATE TABLE checkpoint_keys (
      name             text PRIMARY KEY,
      private_key_enc  text NOT NULL,
      created_at       timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
}
