import { sql, type Kysely } from 'kysely';

// The generic job queue of 0003 never got a worker: the background work (restore-after, approval expiry)
// claims its rows (plans, containments) with FOR UPDATE SKIP LOCKED directly. Nothing reads or writes it.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE jobs`.execute(db);
}
