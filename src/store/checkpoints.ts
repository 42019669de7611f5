import { sql } from 'kysely';
import type { AuditCheckpointsTable } from '../storage/schema.js';
import type { Executor } from './executor.js';
import { asBuffer } from './tree.js';

export type StoredCheckpoint = Omit<AuditCheckpointsTable, 'signed_at'> & { signed_at: Date };

/**
 * Logs whose tree has grown past their latest checkpoint, or whose latest checkpoint is not signed under
 * the log's key name (`<keyName>/<log id>`), with that checkpoint's size and root (if any).
 */
export async function listLogsToCheckpoint(
  db: Executor,
  keyName: string,
): Promise<Array<{ account_id: string; tree_size: number; last: { size: number; root: Buffer } | undefined }>> {
  const { rows } = await sql<{
    account_id: string;
    tree_size: number;
    last_size: number | null;
    last_root: Uint8Array | null;
  }>`
    SELECT l.account_id, l.tree_size, c.size AS last_size, c.root AS last_root
    FROM audit_logs l
    LEFT JOIN LATERAL (SELECT size, root, note FROM audit_checkpoints WHERE account_id = l.account_id
      ORDER BY size DESC LIMIT 1) c ON true
    WHERE l.tree_size > coalesce(c.size, 0)
       OR position(${'\n\u2014 ' + keyName + '/'} || l.account_id || ' ' IN c.note) = 0`.execute(db);
  return rows.map((r) => ({
    account_id: r.account_id,
    tree_size: r.tree_size,
    last: r.last_size === null ? undefined : { size: r.last_size, root: asBuffer(r.last_root!) },
  }));
}

/**
 * Records a checkpoint. Another node signing the same size first is fine (the note is the same); a note of
 * the same size and root replaces one signed under an older key name.
 */
export async function insertCheckpoint(
  db: Executor,
  row: { account_id: string; size: number; root: Buffer; note: string },
): Promise<void> {
  await db
    .insertInto('audit_checkpoints')
    .values(row)
    .onConflict((oc) =>
      oc
        .columns(['account_id', 'size'])
        .doUpdateSet({ note: (eb) => eb.ref('excluded.note') })
        .where('audit_checkpoints.root', '=', (eb) => eb.ref('excluded.root')),
    )
    .execute();
}

/** The latest checkpoint of a log, or the one at `size`. */
export async function findCheckpoint(
  db: Executor,
  logId: string,
  size?: number,
): Promise<StoredCheckpoint | undefined> {
  let query = db.selectFrom('audit_checkpoints').selectAll().where('account_id', '=', logId);
  if (size !== undefined) query = query.where('size', '=', size);
  const row = await query.orderBy('size', 'desc').limit(1).executeTakeFirst();
  return row && { ...row, root: asBuffer(row.root) };
}
