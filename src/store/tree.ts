import { sql } from 'kysely';
import { NUMBERED_ENTRY, type NumberedEntry } from './audit.js';
import type { Executor } from './executor.js';

/** A SHA-256 hash of the audit log's Merkle tree (audit/merkle.ts). */
export type Hash = Buffer;

/** A stored node: the complete subtree of leaves [index·2^level, (index+1)·2^level). */
export interface NodeId {
  level: number;
  index: number;
}

/** bytea as a Buffer: pg returns one, PGlite a plain Uint8Array (no copy either way). */
export const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** The wanted nodes of a log (`ord` counts from 1, in the order asked) with their hashes, null when missing. */
const wantedNodes = (logId: string, ids: NodeId[]) => sql`
    unnest(${ids.map((id) => id.level)}::smallint[],
      ${ids.map((id) => id.index)}::bigint[]) WITH ORDINALITY AS want(level, idx, ord)
    LEFT JOIN audit_tree_nodes n ON n.account_id = ${logId} AND n.level = want.level AND n.idx = want.idx`;

/** A wanted node's hash; a missing node is an error (the tree is damaged). */
function nodeHash(logId: string, id: NodeId, hash: Uint8Array | null): Hash {
  if (!hash) throw new Error(`audit log ${logId}: tree node ${id.level}/${id.index} is missing`);
  return asBuffer(hash);
}

/** Reads tree nodes of one log in the order asked, in one query. */
export async function readTreeNodes(db: Executor, logId: string, ids: NodeId[]): Promise<Hash[]> {
  if (ids.length === 0) return [];
  const { rows } = await sql<{
    hash: Uint8Array | null;
  }>`SELECT n.hash FROM ${wantedNodes(logId, ids)} ORDER BY want.ord`.execute(db);
  return rows.map((row, i) => nodeHash(logId, ids[i]!, row.hash));
}

export async function insertTreeNodes(
  db: Executor,
  logId: string,
  nodes: Array<NodeId & { hash: Hash }>,
): Promise<void> {
  if (nodes.length === 0) return;
  await sql`
    INSERT INTO audit_tree_nodes (account_id, level, idx, hash)
    SELECT ${logId}, * FROM unnest(${nodes.map((n) => n.level)}::smallint[], ${nodes.map((n) => n.index)}::bigint[],
      ${nodes.map((n) => n.hash)}::bytea[])`.execute(db);
}

/**
 * Every stored node of these levels and index ranges (inclusive), in one statement of index range
 * scans on the primary key: no join, so the plan stays right even before the planner has statistics
 * (PGlite has no autovacuum to gather them).
 */
export async function readTreeNodeRanges(
  db: Executor,
  logId: string,
  ranges: Array<{ level: number; from: number; to: number }>,
): Promise<Array<NodeId & { hash: Hash }>> {
  const wanted = ranges.filter((r) => r.from <= r.to);
  if (wanted.length === 0) return [];
  const parts = wanted.map(
    (r) =>
      sql`(SELECT level, idx, hash FROM audit_tree_nodes WHERE account_id = ${logId} AND level = ${r.level}
          AND idx BETWEEN ${r.from} AND ${r.to})`,
  );
  const { rows } = await sql<{
    level: number;
    idx: number;
    hash: Uint8Array;
  }>`${sql.join(parts, sql` UNION ALL `)}`.execute(db);
  return rows.map((row) => ({ level: row.level, index: row.idx, hash: asBuffer(row.hash) }));
}

/**
 * One entry of a log with the tree nodes its proof needs, in one statement (one round trip): the
 * nodes in the order asked (a missing one is an error), and the entry, undefined when it is not there.
 */
export async function readEntryWithNodes(
  db: Executor,
  logId: string,
  index: number,
  ids: NodeId[],
): Promise<{ entry: NumberedEntry | undefined; hashes: Hash[] }> {
  const { rows } = await sql<{ ord: string; hash: Uint8Array | null; entry: NumberedEntry | null }>`
    SELECT want.ord, n.hash, NULL::json AS entry FROM ${wantedNodes(logId, ids)}
    UNION ALL
    SELECT 0, NULL, row_to_json(e) FROM (SELECT ${NUMBERED_ENTRY} FROM audit_entries WHERE account_id = ${logId}
      AND idx = ${index}) e`.execute(db);
  const hashes: Hash[] = new Array<Hash>(ids.length);
  let entry: NumberedEntry | undefined;
  for (const row of rows) {
    const ord = Number(row.ord);
    if (ord === 0) entry = row.entry ?? undefined;
    else hashes[ord - 1] = nodeHash(logId, ids[ord - 1]!, row.hash);
  }
  return { entry, hashes };
}
