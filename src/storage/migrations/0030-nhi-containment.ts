import { sql, type Kysely } from 'kysely';

// Containing non-human identities (issue 19): a leaked secret's owner (an OAuth app, a signal source, a
// session) is a plan's subject and a containment record's, as a user is.
// - plans.subject_nhi and containments.subject_nhi: {type, id, token_hash, kind, credential?}; a record
//   of a non-human identity has no user.
// - The new playbook actions; a containment's new secret, sealed until an OWNER or ADMIN reads it once.
// - oauth_apps.tokens_not_before: tokens issued before it are refused (those whose issue was not yet
//   recorded when the containment listed the app's tokens included).
// - The app's entries (its tokens, its calls) are read by actor when a record lists what it revoked and
//   what the app did in the hour before the leak: a partial index on both halves of the log.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE plans ADD COLUMN subject_nhi jsonb`.execute(db);
  await sql`ALTER TABLE plans DROP CONSTRAINT plans_action_check`.execute(db);
  await sql`ALTER TABLE plans ADD CONSTRAINT plans_action_check CHECK (action IN ('suspend', 'notify', 'none',
      'restore', 'disable_app', 'rotate_secret', 'revoke_tokens'))`.execute(db);
  await sql`CREATE INDEX plans_nhi_open ON plans (account_id, (subject_nhi->>'token_hash'), created_at)
      WHERE subject_nhi IS NOT NULL AND status IN ('executed', 'pending_approval')`.execute(db);

  await sql`ALTER TABLE containments ALTER COLUMN user_id DROP NOT NULL`.execute(db);
  await sql`
    ALTER TABLE containments
      ADD COLUMN subject_nhi  jsonb,
      ADD COLUMN action       text,
      ADD COLUMN details      jsonb NOT NULL DEFAULT '{}',
      ADD COLUMN secret_enc   text,
      ADD CONSTRAINT containments_subject CHECK ((user_id IS NULL) = (subject_nhi IS NOT NULL))`.execute(db);

  await sql`ALTER TABLE oauth_apps ADD COLUMN tokens_not_before timestamptz`.execute(db);

  for (const table of ['audit_entries', 'audit_inbox'])
    await sql`CREATE INDEX ${sql.raw(`${table}_app_actor`)} ON ${sql.raw(table)} (account_id, actor_id, recorded_at)
        WHERE actor_type = 'app'`.execute(db);
}
