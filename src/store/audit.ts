import { sql } from 'kysely';
import type { AuditOutcome, AuditRecord } from '../storage/schema.js';
import type { Executor } from './executor.js';

export interface AuditEntryValues {
  account_id: string;
  actor_type: string;
  actor_id: string;
  action: string;
  target_type: string;
  target_id: string;
  cause: string;
  authz: string;
  outcome: AuditOutcome;
  details: string;
}

/**
 * Into the inbox, in one statement whatever the number of rows (so atomic on its own: a group commit
 * needs no transaction). The rows go as one array per column: the statement text never changes, so it
 * is prepared once per connection, where a multi-row VALUES would be parsed and planned for every size.
 */
export async function insertAuditEntries(db: Executor, rows: AuditEntryValues[]): Promise<void> {
  if (rows.length === 0) return;
  const column = <K extends keyof AuditEntryValues>(key: K) => rows.map((row) => row[key]);
  await sql`
    INSERT INTO audit_inbox (account_id, actor_type, actor_id, action, target_type, target_id, cause, authz, outcome, details)
    SELECT * FROM unnest(${column('account_id')}::text[], ${column('actor_type')}::text[], ${column('actor_id')}::text[],
                         ${column('action')}::text[], ${column('target_type')}::text[], ${column('target_id')}::text[],
                         ${column('cause')}::jsonb[], ${column('authz')}::jsonb[], ${column('outcome')}::text[],
                         ${column('details')}::jsonb[])`.execute(db);
}

/** Logs that have committed entries waiting for an index. */
export async function listLogsWithUnsequenced(db: Executor): Promise<string[]> {
  const rows = await db.selectFrom('audit_inbox').select('account_id').distinct().execute();
  return rows.map((r) => r.account_id);
}

/**
 * Moves up to `limit` committed inbox entries of one log into audit_entries, numbered densely from the
 * log's size in entry_id order. Holds the log's row lock, so one sequencer at a time numbers a log,
 * across processes. Returns how many entries were numbered.
 */
export async function sequenceLog(db: Executor, accountId: string, limit: number): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const lockHead = () => trx.selectFrom('audit_logs').select('size').where('account_id', '=', accountId).forUpdate().executeTakeFirst();
    let head = await lockHead();
    if (!head) {
      // The system log, or a log written before its account row: create its head on first use.
      await trx.insertInto('audit_logs').values({ account_id: accountId }).onConflict((oc) => oc.doNothing()).execute();
      head = (await lockHead())!;
    }
    // This statement starts after the lock is granted, so it sees everything the previous holder moved.
    const result = await sql<{ size: number }>`
      WITH batch AS (
        -- A range up to the batch's last entry_id, computed once (an InitPlan): one index range scan
        -- whatever plan a prepared statement settles on. Same snapshot, so exactly the first rows.
        DELETE FROM audit_inbox
        WHERE account_id = ${accountId} AND entry_id <= (
          SELECT max(entry_id) FROM (
            SELECT entry_id FROM audit_inbox WHERE account_id = ${accountId} ORDER BY entry_id LIMIT ${limit}
          ) AS first_rows
        )
        RETURNING *
      ), numbered AS (
        INSERT INTO audit_entries (account_id, idx, entry_id, recorded_at, actor_type, actor_id, action,
                                   target_type, target_id, cause, authz, outcome, details)
        SELECT account_id, ${head.size} + row_number() OVER (ORDER BY entry_id) - 1, entry_id, recorded_at,
               actor_type, actor_id, action, target_type, target_id, cause, authz, outcome, details
        FROM batch
        RETURNING 1
      )
      UPDATE audit_logs SET size = size + (SELECT count(*) FROM numbered), updated_at = now()
      WHERE account_id = ${accountId}
      RETURNING size`.execute(trx);
    return result.rows[0]!.size - head.size;
  });
}

export interface AuditQuery {
  accountId: string;
  targetType?: string;
  targetId?: string;
  /** Include entries still in the inbox (they come after every numbered one, idx null). */
  includeUnsequenced?: boolean;
  limit?: number;
}

const ENTRY_COLUMNS = [
  'account_id', 'entry_id', 'recorded_at', 'actor_type', 'actor_id', 'action',
  'target_type', 'target_id', 'cause', 'authz', 'outcome', 'details',
] as const;

/**
 * Entries of one log in index order. With `includeUnsequenced`, the inbox is read in the same statement
 * (one snapshot), so an entry the sequencer moves meanwhile is seen exactly once.
 */
export async function listAuditEntries(db: Executor, q: AuditQuery): Promise<AuditRecord[]> {
  let numbered = db
    .selectFrom('audit_entries')
    .select([...ENTRY_COLUMNS, sql<number | null>`idx`.as('idx'), sql<Date | null>`sequenced_at`.as('sequenced_at')])
    .where('account_id', '=', q.accountId);
  if (q.targetType) numbered = numbered.where('target_type', '=', q.targetType);
  if (q.targetId) numbered = numbered.where('target_id', '=', q.targetId);
  if (!q.includeUnsequenced) {
    const ordered = numbered.orderBy('idx');
    return (q.limit ? ordered.limit(q.limit) : ordered).execute();
  }
  let waiting = db
    .selectFrom('audit_inbox')
    .select([...ENTRY_COLUMNS, sql<number | null>`NULL::bigint`.as('idx'), sql<Date | null>`NULL::timestamptz`.as('sequenced_at')])
    .where('account_id', '=', q.accountId);
  if (q.targetType) waiting = waiting.where('target_type', '=', q.targetType);
  if (q.targetId) waiting = waiting.where('target_id', '=', q.targetId);
  const all = numbered.unionAll(waiting).orderBy(sql`idx NULLS LAST`).orderBy('entry_id');
  return (q.limit ? all.limit(q.limit) : all).execute();
}

export async function getLogSize(db: Executor, accountId: string): Promise<number> {
  const row = await db.selectFrom('audit_logs').select('size').where('account_id', '=', accountId).executeTakeFirst();
  return row?.size ?? 0;
}
