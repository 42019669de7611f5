/**
 * `cordon audit export`: a log as JSON Lines that `cordon audit verify` checks with nothing else (see
 * verify.ts for the format): the latest signed checkpoint and the log's key first, then every entry
 * it covers with the leaf hash and the interior nodes the tree stored for it. Entries are read in pages,
 * so memory stays flat.
 */
import { AppError } from '../errors.js';
import { findCheckpoint } from '../store/checkpoints.js';
import type { Executor } from '../store/executor.js';
import { readEntriesWithLeaves } from '../store/audit.js';
import { asBuffer, findTreeNodes } from '../store/tree.js';
import type { NodeId } from './merkle.js';
import type { CheckpointKey } from './checkpoint-key.js';
import { logOrigin } from './checkpointer.js';
import { EXPORT_FORMAT, type ExportHeader } from './verify.js';

const PAGE = 5000;

export async function* exportLog(db: Executor, key: CheckpointKey, logId: string): AsyncGenerator<string> {
  const checkpoint = await findCheckpoint(db, logId);
  if (!checkpoint) throw new AppError('NOT_FOUND', { description: `the audit log ${logId} has no signed checkpoint yet` });
  const header: ExportHeader = { format: EXPORT_FORMAT, log: logId, origin: logOrigin(key, logId), verifier_key: key.verifierKey, checkpoint: checkpoint.note };
  yield JSON.stringify(header) + '\n';
  for (let from = 0; from < checkpoint.size; from += PAGE) {
    const rows = await readEntriesWithLeaves(db, logId, from, Math.min(from + PAGE, checkpoint.size));
    // The interior nodes each leaf completes (level 1 up), so verify can name a damaged stored node.
    const completes = rows.map((row) => {
      const ids: NodeId[] = [];
      for (let level = 1; (row.idx + 1) % 2 ** level === 0; level++) ids.push({ level, index: (row.idx + 1) / 2 ** level - 1 });
      return ids;
    });
    const nodes = await findTreeNodes(db, logId, completes.flat());
    const hex = (hash: Uint8Array | null) => (hash ? asBuffer(hash).toString('hex') : null);
    let page = '';
    let at = 0;
    rows.forEach(({ leaf_hash, ...entry }, i) => {
      const line = { entry, leaf_hash: hex(leaf_hash), nodes: nodes.slice(at, (at += completes[i]!.length)).map(hex) };
      page += JSON.stringify(line) + '\n';
    });
    yield page;
  }
}
