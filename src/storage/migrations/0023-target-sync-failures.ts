import { sql, type Kysely } from 'kysely';

// When a target's last scheduled walk failed: the schedule waits a while before trying it again (the
// sync lease only says that a walk is running), while a person may ask for a sync at once.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE targets ADD COLUMN sync_failed_at timestamptz`.execute(db);
}
