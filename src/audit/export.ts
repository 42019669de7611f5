/**
 * `cordon audit export`: a log as JSON Lines that `cordon audit verify` checks with nothing else (see
 * verify.ts for the format): the latest signed checkpoint and the log's key first, then every entry
 * it covers with the leaf hash and the interior nodes the tree stored for it. Entries are read in pages,
 * so memory stays flat.
 */
import { AppError } from '../errors.js';
import { findCheckpoint } from '../store/checkpoints.js';
import type { Executor } from '../store/executor.js';
import { readNumberedEntries } from '../store/audit.js';
import { readTreeNodeRanges } from '../store/tree.js';
import type { CheckpointKey } from './checkpoint-key.js';
import { logOrigin } from './checkpointer.js';
import { leafData } from './leaf.js';
import { EXPORT_FORMAT, exportLine, type ExportHeader } from './verify.js';

const PAGE = 5000;

export async function* exportLog(db: Executor, key: CheckpointKey, logId: string): AsyncGenerator<string> {
  const checkpoint = await findCheckpoint(db, logId);
  if (!checkpoint)
    throw new AppError('NOT_FOUND', { description: `the audit log ${logId} has no signed checkpoint yet` });
  const header: ExportHeader = {
    format: EXPORT_FORMAT,
    log: logId,
    origin: logOrigin(key, logId),
    verifier_key: key.forLog(logId).verifierKey,
    checkpoint: checkpoint.note,
  };
  yield JSON.stringify(header) + '\n';
  for (let from = 0; from < checkpoint.size; from += PAGE) {
    const to = Math.min(from + PAGE, checkpoint.size);
    const entries = await readNumberedEntries(db, logId, from, to);
    // The leaves, and the interior nodes each leaf completes (level 1 up) so that verify can name a
    // damaged stored node: at level l, the nodes whose last leaf falls in [from, to).
    const ranges = [{ level: 0, from, to: to - 1 }];
    for (let level = 1; 2 ** level <= to; level++)
      ranges.push({ level, from: Math.ceil((from + 1) / 2 ** level) - 1, to: Math.floor(to / 2 ** level) - 1 });
    const stored = new Map(
      (await readTreeNodeRanges(db, logId, ranges)).map((n) => [`${n.level}/${n.index}`, n.hash.toString('hex')]),
    );
    let page = '';
    for (const entry of entries) {
      const nodes: Array<string | null> = [];
      for (let level = 1; (entry.idx + 1) % 2 ** level === 0; level++)
        nodes.push(stored.get(`${level}/${(entry.idx + 1) / 2 ** level - 1}`) ?? null);
      page += exportLine(leafData(entry), stored.get(`0/${entry.idx}`) ?? null, nodes);
    }
    yield page;
  }
}
