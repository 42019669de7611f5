/**
 * Signs a checkpoint for every audit log whose Merkle tree has grown, every CORDON_CHECKPOINT_INTERVAL_MS.
 * Before it signs, it proves from the stored tree that the new tree extends the one the log's last
 * checkpoint signed (RFC 6962 consistency), and refuses to sign (loudly) when it does not: the log never
 * signs two checkpoints without a consistency proof between them, even if its storage was tampered with.
 */
import type { Logger } from 'pino';
import { Periodic } from '../periodic.js';
import { insertCheckpoint, listLogsToCheckpoint } from '../store/checkpoints.js';
import type { Executor } from '../store/executor.js';
import { readTreeNodes } from '../store/tree.js';
import { signCheckpoint } from './checkpoint.js';
import type { CheckpointKey } from './checkpoint-key.js';
import { consistencyPlan, resolvePlan, rootAt, verifyConsistency, type NodeReader } from './merkle.js';

/** The origin of a log's checkpoints: the key's name and the log id. */
export const logOrigin = (key: CheckpointKey, logId: string) => `${key.name}/${logId}`;

export class Checkpointer {
  private readonly periodic: Periodic;

  constructor(
    private readonly db: Executor,
    private readonly key: CheckpointKey,
    private readonly options: { intervalMs: number; logger?: Logger | undefined },
  ) {
    this.periodic = new Periodic(
      () => this.pass(),
      options.intervalMs,
      (error) => options.logger?.error({ err: error }, 'audit checkpoint pass failed; retrying'),
    );
  }

  start(): void {
    this.periodic.start();
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  /** Signs a checkpoint for every log that grew; returns how many it signed. */
  async pass(): Promise<number> {
    let signed = 0;
    for (const log of await listLogsToCheckpoint(this.db)) {
      if (await this.checkpoint(log.account_id, log.tree_size, log.last)) signed++;
    }
    return signed;
  }

  private async checkpoint(
    logId: string,
    size: number,
    last: { size: number; root: Buffer } | undefined,
  ): Promise<boolean> {
    const read: NodeReader = (ids) => readTreeNodes(this.db, logId, ids);
    const root = await rootAt(size, read);
    if (last) {
      const proof = await resolvePlan(consistencyPlan(last.size, size), read);
      if (!verifyConsistency(last.size, size, proof, last.root, root)) {
        this.options.logger?.error(
          { log: logId, signed_size: last.size, size },
          'audit log is not consistent with its last checkpoint: refusing to sign (tampered storage?)',
        );
        return false;
      }
    }
    const note = signCheckpoint({ origin: logOrigin(this.key, logId), size, rootHash: root }, this.key);
    await insertCheckpoint(this.db, { account_id: logId, size, root, note });
    return true;
  }
}
