import { sql, type Kysely } from 'kysely';

// The response engine: where signals come from, the signals themselves, playbooks and the
// protected-principal policy (both versioned, every version kept), the account's automation settings
// (kill switch, blast-radius caps), the breakers while tripped, and plans.
//
// A plan is the unit the Containment issue builds on: it carries its subject, the exact playbook and
// policy versions it was evaluated under, each guard's verdict, the approvals it needs and the digest of
// the exact action those approvals will be bound to.
export async function up(db: Kysely<unknown>): Promise<void> {
  // A detection source posts signals in one format and authenticates one way: an OAuth app holding
  // signals:write (optionally one named app), an HMAC-SHA256 signature with a secret sealed under the KEK
  // (the server must recompute it), or a token in the URL (for Splunk, which cannot send headers),
  // stored as a SHA-256 hash: it carries 256 bits of entropy.
  await sql`
    CREATE TABLE signal_sources (
      account_id   text NOT NULL REFERENCES accounts (id),
      id           text NOT NULL,
      name         text NOT NULL,
      format       text NOT NULL CHECK (format IN ('canonical', 'ocsf', 'ecs', 'splunk', 'azure')),
      auth         text NOT NULL CHECK (auth IN ('oauth', 'hmac', 'url_token')),
      client_id    text,
      secret_enc   text,
      token_hash   text,
      created_at   timestamptz NOT NULL DEFAULT now(),
      disabled_at  timestamptz,
      PRIMARY KEY (account_id, id),
      UNIQUE (account_id, name),
      CHECK ((auth = 'hmac') = (secret_enc IS NOT NULL)),
      CHECK ((auth = 'url_token') = (token_hash IS NOT NULL))
    )`.execute(db);
  await sql`CREATE INDEX signal_sources_token ON signal_sources (token_hash) WHERE token_hash IS NOT NULL`.execute(db);

  // HMAC-signed requests seen inside the replay window: a second delivery of the same signature is refused.
  await sql`
    CREATE TABLE signal_source_replays (
      account_id      text NOT NULL,
      source_id       text NOT NULL,
      signature_hash  text NOT NULL,
      expires_at      timestamptz NOT NULL,
      PRIMARY KEY (account_id, source_id, signature_hash)
    )`.execute(db);
  await sql`CREATE INDEX signal_source_replays_expiry ON signal_source_replays (account_id, source_id,
      expires_at)`.execute(db);

  // source_id is a registered source's id, or app:<client_id> for canonical signals an app posts
  // without naming a source. (source_id, external_id) is the dedup key.
  await sql`
    CREATE TABLE signals (
      account_id       text NOT NULL REFERENCES accounts (id),
      id               text NOT NULL,
      source_id        text NOT NULL,
      external_id      text NOT NULL,
      type             text NOT NULL,
      title            text NOT NULL,
      severity         text NOT NULL,
      confidence       double precision NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
      subject          jsonb NOT NULL,
      tags             text[] NOT NULL DEFAULT '{}',
      observed_at      timestamptz NOT NULL,
      received_at      timestamptz NOT NULL DEFAULT now(),
      raw              jsonb NOT NULL,
      raw_truncated    boolean NOT NULL DEFAULT false,
      PRIMARY KEY (account_id, id),
      UNIQUE (account_id, source_id, external_id)
    )`.execute(db);

  await sql`
    CREATE TABLE playbooks (
      account_id    text NOT NULL REFERENCES accounts (id),
      name          text NOT NULL,
      version       integer NOT NULL CHECK (version > 0),
      content_hash  text NOT NULL,
      document      jsonb NOT NULL,
      created_at    timestamptz NOT NULL DEFAULT now(),
      created_by    text NOT NULL,
      PRIMARY KEY (account_id, name, version)
    )`.execute(db);

  await sql`
    CREATE TABLE protection_policies (
      account_id    text NOT NULL REFERENCES accounts (id),
      version       integer NOT NULL CHECK (version > 0),
      content_hash  text NOT NULL,
      document      jsonb NOT NULL,
      created_at    timestamptz NOT NULL DEFAULT now(),
      created_by    text NOT NULL,
      PRIMARY KEY (account_id, version)
    )`.execute(db);

  // One row per account once automation was configured or used. Its row lock orders the engine's
  // executions in an account, so that the blast-radius count and the executions it admits agree.
  await sql`
    CREATE TABLE automation_settings (
      account_id              text NOT NULL REFERENCES accounts (id),
      paused_at               timestamptz,
      paused_by               text,
      pause_reason            text,
      breaker_max_actions     integer CHECK (breaker_max_actions > 0),
      breaker_window_seconds  integer CHECK (breaker_window_seconds > 0),
      updated_at              timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (account_id)
    )`.execute(db);

  // A row exists while a breaker is tripped: scope 'account', or 'playbook:<name>'. The subjects it held
  // back are the plans whose held_by names its trip (trip_plan_id).
  await sql`
    CREATE TABLE breakers (
      account_id     text NOT NULL REFERENCES accounts (id),
      scope          text NOT NULL,
      tripped_at     timestamptz NOT NULL DEFAULT now(),
      trip_plan_id   text NOT NULL,
      max_actions    integer NOT NULL,
      window_seconds integer NOT NULL,
      PRIMARY KEY (account_id, scope)
    )`.execute(db);

  // The blast-radius cap as a semaphore: max_actions slots per scope, each used by one execution and free
  // again once its use is older than the window, so no window ever holds more executions than slots. An
  // executing plan claims a free slot with FOR UPDATE SKIP LOCKED: concurrent executions take different
  // slots instead of queueing on one account-wide lock, and when no slot is free the cap is reached.
  await sql`
    CREATE TABLE breaker_slots (
      account_id  text NOT NULL REFERENCES accounts (id),
      scope       text NOT NULL,
      slot        integer NOT NULL,
      used_at     timestamptz,
      plan_id     text,
      PRIMARY KEY (account_id, scope, slot)
    ) WITH (fillfactor = 50)`.execute(db);
  // No index on used_at: every claim updates it, and room on the page (fillfactor) keeps those updates
  // HOT, so claims leave no trail of dead index entries for the next claim to wade through.

  await sql`
    CREATE TABLE plans (
      account_id          text NOT NULL REFERENCES accounts (id),
      id                  text NOT NULL,
      signal_id           text NOT NULL,
      subject_user_id     text,
      playbook_name       text,
      playbook_version    integer,
      policy_version      integer NOT NULL,
      action              text NOT NULL CHECK (action IN ('suspend', 'notify', 'none')),
      mode                text CHECK (mode IN ('auto', 'approval')),
      approvals_required  integer NOT NULL DEFAULT 0,
      status              text NOT NULL CHECK (status IN ('executed', 'pending_approval', 'refused', 'duplicate',
        'no_action', 'notified', 'failed')),
      action_digest       text,
      verdicts            jsonb NOT NULL,
      restore_after_seconds integer,
      held_by             text[] NOT NULL DEFAULT '{}',  -- the trips (trip_plan_id) that held it back
      created_at          timestamptz NOT NULL DEFAULT now(),
      executed_at         timestamptz,
      PRIMARY KEY (account_id, id)
    )`.execute(db);
  // The dedup guard's question: an open plan (pending, or executed inside the window) for this subject and playbook.
  await sql`CREATE INDEX plans_open ON plans (account_id, subject_user_id, playbook_name, created_at)
      WHERE status IN ('executed', 'pending_approval')`.execute(db);
  // Who a tripped breaker held back.
  await sql`CREATE INDEX plans_held ON plans (account_id, created_at) WHERE held_by <> '{}'`.execute(db);
  await sql`CREATE INDEX plans_signal ON plans (account_id, signal_id)`.execute(db);
  // Subject resolution by username (an alert that names only \`jdoe\`): the local part of the email.
  await sql`CREATE INDEX users_email_local ON users (account_id, split_part(lower(email), '@', 1))`.execute(db);
}
