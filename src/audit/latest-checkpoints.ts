/**
 * The latest signed checkpoint of each log, for proofs against "the latest checkpoint": read from the
 * database at most every `maxAgeMs` per log, which saves a round trip on every proof request. A proof
 * against a checkpoint a quarter second old is as good as any (it names its tree size, and every
 * checkpoint is signed), and an entry past the remembered size makes it read again.
 */
import { findCheckpoint, type StoredCheckpoint } from '../store/checkpoints.js';
import type { Executor } from '../store/executor.js';

export class LatestCheckpoints {
  private readonly remembered = new Map<string, { checkpoint: StoredCheckpoint; readAt: number }>();

  constructor(
    private readonly db: Executor,
    private readonly maxAgeMs = 250,
  ) {}

  /** The latest checkpoint of the log, recent enough and covering entry `index` when it can. */
  async covering(logId: string, index: number): Promise<StoredCheckpoint | undefined> {
    const hit = this.remembered.get(logId);
    if (hit && performance.now() - hit.readAt < this.maxAgeMs && index < hit.checkpoint.size) return hit.checkpoint;
    const checkpoint = await findCheckpoint(this.db, logId);
    if (checkpoint) this.remembered.set(logId, { checkpoint, readAt: performance.now() });
    return checkpoint;
  }
}
