/**
 * Proofs from a log's stored tree: an entry with its inclusion path, and consistency between two sizes.
 * Each reads O(log n) nodes in one query.
 */
import { AppError } from '../errors.js';
import { readNumberedEntries, type NumberedEntry } from '../store/audit.js';
import type { Executor } from '../store/executor.js';
import { readTreeNodes } from '../store/tree.js';
import { consistencyPlan, inclusionPlan, resolvePlan, type Hash, type NodeReader } from './merkle.js';

const reader = (db: Executor, logId: string): NodeReader => (ids) => readTreeNodes(db, logId, ids);

export async function proveInclusion(db: Executor, logId: string, index: number, size: number): Promise<{ entry: NumberedEntry; leaf: Hash; path: Hash[] }> {
  if (index >= size) throw new AppError('INVALID_ARGUMENT', { description: `entry ${index} is not in the tree of size ${size}` });
  const read = reader(db, logId);
  // The leaf rides along with the path's nodes: one node query.
  let leaf: Hash | undefined;
  const withLeaf: NodeReader = async (ids) => {
    const hashes = await read([{ level: 0, index }, ...ids]);
    leaf = hashes.shift();
    return hashes;
  };
  const [[entry], path] = await Promise.all([readNumberedEntries(db, logId, index, index + 1), resolvePlan(inclusionPlan(index, size), withLeaf)]);
  return { entry: entry!, leaf: leaf!, path };
}

/** RFC 6962 PROOF(first, second); empty for equal sizes. The caller has checked 0 < first ≤ second ≤ the tree's size. */
export async function proveConsistency(db: Executor, logId: string, first: number, second: number): Promise<Hash[]> {
  if (first > second) throw new AppError('INVALID_ARGUMENT', { description: `first (${first}) is past second (${second})` });
  return first === second ? [] : resolvePlan(consistencyPlan(first, second), reader(db, logId));
}
