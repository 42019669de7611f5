/**
 * Proofs from a log's stored tree: an entry with its inclusion path, and consistency between two sizes.
 * Each reads O(log n) nodes in one statement (an inclusion proof, its entry too).
 */
import { AppError } from '../errors.js';
import type { NumberedEntry } from '../store/audit.js';
import { findCheckpoint } from '../store/checkpoints.js';
import type { CheckpointKey } from './checkpoint-key.js';
import { logOrigin } from './checkpointer.js';
import type { Executor } from '../store/executor.js';
import { readEntryWithNodes, readTreeNodes } from '../store/tree.js';
import { consistencyPlan, inclusionPlan, resolvePlan, type Hash, type NodeReader } from './merkle.js';

const reader =
  (db: Executor, logId: string): NodeReader =>
  (ids) =>
    readTreeNodes(db, logId, ids);

export async function proveInclusion(
  db: Executor,
  logId: string,
  index: number,
  size: number,
): Promise<{ entry: NumberedEntry; leaf: Hash; path: Hash[] }> {
  if (index >= size)
    throw new AppError('INVALID_ARGUMENT', { description: `entry ${index} is not in the tree of size ${size}` });
  // The entry and its leaf ride along with the path's nodes: one statement.
  let found: { entry: NumberedEntry | undefined; leaf: Hash } | undefined;
  const path = await resolvePlan(inclusionPlan(index, size), async (ids) => {
    const { entry, hashes } = await readEntryWithNodes(db, logId, index, [{ level: 0, index }, ...ids]);
    found = { entry, leaf: hashes.shift()! };
    return hashes;
  });
  if (!found?.entry) throw new Error(`audit log ${logId}: entry ${index} of the signed tree is missing`);
  return { entry: found.entry, leaf: found.leaf, path };
}

/**
 * RFC 6962 PROOF(first, second); empty for equal sizes. The caller has checked 0 < first ≤ second ≤ the tree's size.
 */
export async function proveConsistency(db: Executor, logId: string, first: number, second: number): Promise<Hash[]> {
  if (first > second)
    throw new AppError('INVALID_ARGUMENT', { description: `first (${first}) is past second (${second})` });
  return first === second ? [] : resolvePlan(consistencyPlan(first, second), reader(db, logId));
}

/**
 * An entry's inclusion proof against the log's latest signed checkpoint, with what a verifier needs to check it
 * offline.
 */
export interface EntryProof {
  entry: NumberedEntry;
  tree_size: number;
  leaf_hash: string;
  inclusion_path: string[];
  signed_note: string;
  origin: string;
  verifier_key: string;
}

/** EntryProof for `index`; undefined while no signed checkpoint covers it yet. */
export async function proveAgainstLatest(
  db: Executor,
  key: CheckpointKey,
  logId: string,
  index: number,
): Promise<EntryProof | undefined> {
  const checkpoint = await findCheckpoint(db, logId);
  if (!checkpoint || checkpoint.size <= index) return undefined;
  const { entry, leaf, path } = await proveInclusion(db, logId, index, checkpoint.size);
  const b64 = (h: Buffer) => h.toString('base64');
  return {
    entry,
    tree_size: checkpoint.size,
    leaf_hash: b64(leaf),
    inclusion_path: path.map(b64),
    signed_note: checkpoint.note,
    origin: logOrigin(key, logId),
    verifier_key: key.forLog(logId).verifierKey,
  };
}
