import { sql } from 'kysely';
import type { AuditEntryRow, AuditOutcome } from '../storage/schema.js';
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

/** One multi-row INSERT: atomic on its own, so a group commit needs no explicit transaction. */
export async function insertAuditEntries(db: Executor, rows: AuditEntryValues[]): Promise<void> {
  if (rows.length === 0) return;
  await db.insertInto('audit_entries').values(rows).execute();
}

/** Logs that have committed entries still waiting for an index. */
export async function listLogsWithUnsequenced(db: Executor): Promise<string[]> {
  const rows = await db.selectFrom('audit_entries').select('account_id').where('idx', 'is', null).distinct().execute();
  return rows.map((r) => r.account_id);
}

/**
 * Numbers up to `limit` committed, unnumbered entries of one log, densely from its current size, in
 * entry_id order. Holds the log's row lock, so one sequencer at a time numbers a log, across processes.
 * Returns how many entries were numbered.
 */
export async function sequenceLog(db: Executor, accountId: string, limit: number): Promise<number> {
  return db.transaction().execute(async (trx) => {
    await trx.insertInto('audit_logs').values({ account_id: accountId }).onConflict((oc) => oc.doNothing()).execute();
    const log = await trx
      .selectFrom('audit_logs')
      .select('size')
      .where('account_id', '=', accountId)
      .forUpdate()
      .executeTakeFirstOrThrow();
    // A statement issued after the lock is granted sees every entry numbered by the previous holder.
    const numbered = await sql<{ n: number }>`
      WITH batch AS (
        SELECT entry_id, row_number() OVER (ORDER BY entry_id) - 1 AS n
        FROM audit_entries
        WHERE account_id = ${accountId} AND idx IS NULL
        ORDER BY entry_id
        LIMIT ${limit}
      )
      UPDATE audit_entries e
      SET idx = ${log.size} + batch.n, sequenced_at = clock_timestamp()
      FROM batch
      WHERE e.account_id = ${accountId} AND e.entry_id = batch.entry_id
      RETURNING e.idx AS n`.execute(trx);
    const count = numbered.rows.length;
    if (count > 0) {
      await trx
        .updateTable('audit_logs')
        .set({ size: log.size + count, updated_at: sql<Date>`now()` as unknown as Date })
        .where('account_id', '=', accountId)
        .execute();
    }
    return count;
  });
}

export interface AuditQuery {
  accountId: string;
  targetType?: string;
  targetId?: string;
  /** Include entries not yet numbered (they sort after every numbered one). */
  includeUnsequenced?: boolean;
  limit?: number;
}

export function listAuditEntries(db: Executor, q: AuditQuery): Promise<AuditEntryRow[]> {
  let query = db.selectFrom('audit_entries').selectAll().where('account_id', '=', q.accountId);
  if (!q.includeUnsequenced) query = query.where('idx', 'is not', null);
  if (q.targetType) query = query.where('target_type', '=', q.targetType);
  if (q.targetId) query = query.where('target_id', '=', q.targetId);
  query = query.orderBy(sql`idx NULLS LAST`).orderBy('entry_id');
  if (q.limit) query = query.limit(q.limit);
  return query.execute();
}

export async function getLogSize(db: Executor, accountId: string): Promise<number> {
  const row = await db.selectFrom('audit_logs').select('size').where('account_id', '=', accountId).executeTakeFirst();
  return row?.size ?? 0;
}
