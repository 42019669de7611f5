import { sql, type Kysely } from 'kysely';

// Targets: the systems a containment acts on besides Cordon's own directory (1Password's Users API,
// SCIM 2.0 apps, Global Token Revocation endpoints), the identities mirrored from them, and the steps
// that carry a containment out on each of them after its plan commits (an outbox).
export async function up(db: Kysely<unknown>): Promise<void> {
  // config: what is not secret (base URL, API version, the remote account, how it authenticates).
  // credentials: sealed JSON (sealing.ts, label `target:<account>:<id>`), never returned after creation.
  // A removed target keeps its row (its steps and attempts stay explainable) and frees its name.
  await sql`
    CREATE TABLE targets (
      account_id              text NOT NULL REFERENCES accounts (id),
      id                      text NOT NULL,
      name                    text NOT NULL,
      kind                    text NOT NULL CHECK (kind IN ('onepassword', 'scim', 'gtr')),
      config                  jsonb NOT NULL,
      credentials             text NOT NULL,
      credentials_rotated_at  timestamptz,
      enabled                 boolean NOT NULL DEFAULT true,
      max_concurrency         integer NOT NULL DEFAULT 4 CHECK (max_concurrency BETWEEN 1 AND 64),
      max_rate_per_second     integer NOT NULL DEFAULT 20 CHECK (max_rate_per_second BETWEEN 1 AND 10000),
      step_deadline_seconds   integer NOT NULL DEFAULT 900 CHECK (step_deadline_seconds BETWEEN 10 AND 604800),
      sync_interval_seconds   integer NOT NULL DEFAULT 3600 CHECK (sync_interval_seconds BETWEEN 60 AND 604800),
      created_by              jsonb NOT NULL,
      created_at              timestamptz NOT NULL DEFAULT now(),
      last_sync_at            timestamptz,
      last_sync_error         text,
      sync_lease_until        timestamptz,
      removed_at              timestamptz,
      PRIMARY KEY (account_id, id)
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX targets_name ON targets (account_id, name) WHERE removed_at IS NULL`.execute(db);

  // The mirror of each target's users, filled by the sync job; a signal's subject resolves through it.
  await sql`
    CREATE TABLE target_identities (
      account_id    text NOT NULL,
      target_id     text NOT NULL,
      external_id   text NOT NULL,
      email         text,
      user_name     text,
      display_name  text,
      state         text NOT NULL CHECK (state IN ('ACTIVE', 'SUSPENDED', 'UNKNOWN')),
      last_seen_at  timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (account_id, target_id, external_id),
      FOREIGN KEY (account_id, target_id) REFERENCES targets (account_id, id)
    )`.execute(db);
  await sql`CREATE INDEX target_identities_email ON target_identities (account_id, lower(email))`.execute(db);
  await sql`CREATE INDEX target_identities_user_name ON target_identities (account_id, lower(user_name))`.execute(db);

  // One row per remote action of a containment, written in the transaction of the plan (or restore) that
  // decided it, and carried out after commit by a worker on any node: claimed FOR UPDATE SKIP LOCKED
  // under a lease, retried with backoff until it verifies, ends refused (protected, gone) or passes
  // its deadline (failed). attempt_open: an attempt was claimed and its outcome is not recorded yet
  // (a crash between the call and the record); the next claim records it as interrupted.
  await sql`
    CREATE TABLE target_steps (
      account_id       text NOT NULL,
      id               text NOT NULL,
      containment_id   text NOT NULL,
      plan_id          text,
      target_id        text NOT NULL,
      operation        text NOT NULL CHECK (operation IN ('suspend', 'reactivate')),
      subject          jsonb NOT NULL,
      external_id      text,
      status           text NOT NULL DEFAULT 'pending'
                         CHECK (status IN ('pending', 'verified', 'failed', 'protected', 'gone', 'cancelled')),
      attempts         integer NOT NULL DEFAULT 0,
      attempt_open     boolean NOT NULL DEFAULT false,
      next_attempt_at  timestamptz NOT NULL DEFAULT now(),
      lease_owner      text,
      lease_until      timestamptz,
      deadline_at      timestamptz NOT NULL,
      observed_state   text,
      drift            jsonb,
      last_error       jsonb,
      created_at       timestamptz NOT NULL DEFAULT now(),
      finished_at      timestamptz,
      PRIMARY KEY (account_id, id),
      FOREIGN KEY (account_id, target_id) REFERENCES targets (account_id, id)
    )`.execute(db);
  await sql`CREATE INDEX target_steps_due ON target_steps (next_attempt_at) WHERE status = 'pending'`.execute(db);
  await sql`CREATE INDEX target_steps_containment ON target_steps (account_id, containment_id)`.execute(db);

  // A record's remote side: null when it has no remote step; otherwise where its steps stand
  // (in_progress → contained | partial while open; restoring → restored | restore_partial once closed).
  await sql`
    ALTER TABLE containments ADD COLUMN targets_state text CHECK (targets_state IN
      ('in_progress', 'contained', 'partial', 'restoring', 'restored', 'restore_partial'))`.execute(db);
}
