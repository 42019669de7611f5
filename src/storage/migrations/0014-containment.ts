import { sql, type Kysely } from 'kysely';

// Containment: approvals bound to the exact action, containment records, restores.
//
// A restore is a plan too (action 'restore', no signal), so that one approval machinery serves both:
// a pending plan carries the digest of its exact action, who asked for it, and when its approvals lapse.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE plans ALTER COLUMN signal_id DROP NOT NULL`.execute(db);
  await sql`ALTER TABLE plans DROP CONSTRAINT plans_action_check`.execute(db);
  await sql`ALTER TABLE plans ADD CONSTRAINT plans_action_check CHECK (action IN ('suspend', 'notify', 'none',
      'restore'))`.execute(db);
  await sql`ALTER TABLE plans DROP CONSTRAINT plans_status_check`.execute(db);
  await sql`
    ALTER TABLE plans ADD CONSTRAINT plans_status_check
      CHECK (status IN ('executed', 'pending_approval', 'refused', 'duplicate', 'no_action', 'notified', 'failed',
        'denied', 'expired', 'void'))`.execute(db);
  // requested_by: the actor who asked (a signal's submitter, or the person or job asking for a restore);
  // no one may approve what they asked for. lock_containment: the playbook's choice for the containment
  // its suspension opens. containment_id and restore_reason: a restore's.
  await sql`
    ALTER TABLE plans
      ADD COLUMN requested_by      jsonb,
      ADD COLUMN expires_at        timestamptz,
      ADD COLUMN decided_at        timestamptz,
      ADD COLUMN lock_containment  boolean NOT NULL DEFAULT true,
      ADD COLUMN containment_id    text,
      ADD COLUMN restore_reason    text`.execute(db);
  await sql`CREATE INDEX plans_pending ON plans (account_id, subject_user_id, created_at)
      WHERE status = 'pending_approval'`.execute(db);
  await sql`CREATE INDEX plans_expiry ON plans (expires_at) WHERE status = 'pending_approval'`.execute(db);

  // One decision per person per plan (the key is what makes N approvals N distinct people), bound to
  // the digest the person saw. A decision is used once: the plan it decided is final afterwards.
  await sql`
    CREATE TABLE plan_approvals (
      account_id     text NOT NULL,
      plan_id        text NOT NULL,
      approver_id    text NOT NULL,
      decision       text NOT NULL CHECK (decision IN ('approve', 'deny')),
      reason         text NOT NULL,
      action_digest  text NOT NULL,
      session_id     text NOT NULL,
      created_at     timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (account_id, plan_id, approver_id),
      FOREIGN KEY (account_id, plan_id) REFERENCES plans (account_id, id)
    )`.execute(db);

  // Every suspension opens one, in the suspension's own statement, with a snapshot of what it changed
  // and revoked; every reactivation closes the user's open one. While an engine-opened, locked record is
  // open, only a restore (or an app holding containments:release) reactivates the user.
  await sql`
    CREATE TABLE containments (
      account_id            text NOT NULL REFERENCES accounts (id),
      id                    text NOT NULL,
      user_id               text NOT NULL,
      plan_id               text,
      locked                boolean NOT NULL,
      snapshot              jsonb NOT NULL,
      cause                 jsonb NOT NULL,
      opened_by             jsonb NOT NULL,
      opened_at             timestamptz NOT NULL DEFAULT now(),
      restore_after         timestamptz,
      restore_requested_at  timestamptz,
      status                text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
      close_reason          text CHECK (close_reason IN ('restored', 'false_positive', 'reactivated', 'released',
        'deleted')),
      closed_by             jsonb,
      closed_at             timestamptz,
      PRIMARY KEY (account_id, id),
      CHECK ((status = 'open') = (closed_at IS NULL))
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX containments_open ON containments (account_id, user_id) WHERE status = 'open'`.execute(
    db,
  );
  // The restore-after job's queue: open records whose time has come (claimed FOR UPDATE SKIP LOCKED).
  await sql`CREATE INDEX containments_due ON containments (restore_after) WHERE status = 'open'
      AND restore_requested_at IS NULL`.execute(db);
  await sql`CREATE INDEX containments_plan ON containments (account_id, plan_id) WHERE plan_id IS NOT NULL`.execute(db);

  // The restore policy: how many people a restore needs (0: restore-after runs unattended; 2: the
  // two-person rule), and the group whose members may approve besides OWNERs and ADMINs.
  await sql`
    ALTER TABLE automation_settings
      ADD COLUMN restore_approvals  integer NOT NULL DEFAULT 1 CHECK (restore_approvals BETWEEN 0 AND 2),
      ADD COLUMN approver_group_id  text`.execute(db);

  // A signal a restore declared a false positive.
  await sql`ALTER TABLE signals ADD COLUMN false_positive_at timestamptz`.execute(db);
}
