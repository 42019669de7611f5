import { sql, type Kysely } from 'kysely';

// Notifications (src/notify/): an account's webhook subscriptions, the messages its audit log fans out
// to them, one delivery per message and subscription (an outbox the delivery worker drains), and every
// attempt of each delivery.
export async function up(db: Kysely<unknown>): Promise<void> {
  // secret: the `whsec_` signing secret sealed under the KEK (sealing.ts, label `webhook:<account>:<id>`),
  // shown once at creation. A removed subscription keeps its row, so that its delivery log stays readable.
  // consecutive_failures: attempts in a row that failed, across deliveries; the worker disables the
  // subscription (disabled_reason) when it reaches the configured limit.
  await sql`
    CREATE TABLE webhook_subscriptions (
      account_id            text NOT NULL REFERENCES accounts (id),
      id                    text NOT NULL,
      url                   text NOT NULL,
      events                text[] NOT NULL,
      format                text NOT NULL CHECK (format IN ('standard', 'slack')),
      secret                text NOT NULL,
      enabled               boolean NOT NULL DEFAULT true,
      disabled_reason       text,
      consecutive_failures  integer NOT NULL DEFAULT 0,
      created_by            jsonb NOT NULL,
      created_at            timestamptz NOT NULL DEFAULT now(),
      removed_at            timestamptz,
      PRIMARY KEY (account_id, id)
    )`.execute(db);
  // The fan-out's one query per log and pass: an account without subscriptions costs this index probe.
  await sql`
    CREATE INDEX webhook_subscriptions_active ON webhook_subscriptions (account_id)
      WHERE enabled AND removed_at IS NULL`.execute(db);

  // One message per audit entry that maps to an event: id is the `webhook-id` every retry repeats, and the
  // bodies are rendered once, so that every attempt sends the same bytes (slack: only when a subscription
  // of that format takes it).
  await sql`
    CREATE TABLE webhook_messages (
      account_id    text NOT NULL,
      id            text NOT NULL,
      event_type    text NOT NULL,
      audit_idx     bigint NOT NULL,
      payload       text NOT NULL,
      slack_payload text,
      created_at    timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (account_id, id),
      UNIQUE (account_id, audit_idx, event_type)
    )`.execute(db);

  // The outbox: claimed FOR UPDATE SKIP LOCKED under a lease (state delivering, lease_until) by any node.
  await sql`
    CREATE TABLE webhook_deliveries (
      account_id       text NOT NULL,
      id               text NOT NULL,
      message_id       text NOT NULL,
      subscription_id  text NOT NULL,
      state            text NOT NULL DEFAULT 'pending'
                         CHECK (state IN ('pending', 'delivering', 'delivered', 'failed', 'dropped')),
      attempts         integer NOT NULL DEFAULT 0,
      next_attempt_at  timestamptz NOT NULL DEFAULT now(),
      lease_owner      text,
      lease_until      timestamptz,
      give_up_at       timestamptz NOT NULL,
      last_error       text,
      created_at       timestamptz NOT NULL DEFAULT now(),
      finished_at      timestamptz,
      PRIMARY KEY (account_id, id),
      UNIQUE (account_id, message_id, subscription_id),
      FOREIGN KEY (account_id, message_id) REFERENCES webhook_messages (account_id, id),
      FOREIGN KEY (account_id, subscription_id) REFERENCES webhook_subscriptions (account_id, id)
    )`.execute(db);
  await sql`
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
      WHERE state IN ('pending', 'delivering')`.execute(db);
  await sql`
    CREATE INDEX webhook_deliveries_log ON webhook_deliveries (account_id, subscription_id, created_at DESC)`.execute(
    db,
  );

  // Every attempt: never the secret, never the request's headers; the receiver's answer only as an excerpt.
  await sql`
    CREATE TABLE webhook_attempts (
      account_id        text NOT NULL,
      delivery_id       text NOT NULL,
      attempt           integer NOT NULL,
      attempted_at      timestamptz NOT NULL,
      status_code       integer,
      latency_ms        integer NOT NULL,
      error             text,
      response_excerpt  text,
      PRIMARY KEY (account_id, delivery_id, attempt),
      FOREIGN KEY (account_id, delivery_id) REFERENCES webhook_deliveries (account_id, id)
    )`.execute(db);
}
