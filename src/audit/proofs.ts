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
  const [[entry], [leaf], path] = await Promise.all([readNumberedEntries(db, logId, index, index + 1), read([{ level: 0, index }]), resolvePlan(inclusionPlan(index, size), read)]);
  return { entry: entry!, leaf: leaf!, path };
}

/** RFC 6962 PROOF(first, second); empty for equal sizes. The caller has checked 0 < first ≤ second ≤ the tree's size. */
export async function proveConsistency(db: Executor, logId: string, first: number, second: number): Promise<Hash[]> {
  if (first > second) throw new AppError('INVALID_ARGUMENT', { description: `first (${first}) is past second (${second})` });
  return first === second ? [] : resolvePlan(consistencyPlan(first, second), reader(db, logId));
}
