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

/** The origin of a log's checkpoints: the name of the log's key (checkpoint-key.ts), `<base name>/<log id>`. */
export const logOrigin = (key: CheckpointKey, logId: string) => key.forLog(logId).name;

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

  /**
   * Signs a checkpoint for every log that grew, and again (same size and root) for a log whose latest
   * checkpoint was signed under another key name (before logs had names of their own); returns how many
   * it signed.
   */
  async pass(): Promise<number> {
    let signed = 0;
    for (const log of await listLogsToCheckpoint(this.db, this.key.name)) {
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
      const consistent =
        last.size === size
          ? last.root.equals(root)
          : verifyConsistency(
              last.size,
              size,
              await resolvePlan(consistencyPlan(last.size, size), read),
              last.root,
              root,
            );
      if (!consistent) {
        this.options.logger?.error(
          { log: logId, signed_size: last.size, size },
          'audit log is not consistent with its last checkpoint: refusing to sign (tampered storage?)',
        );
        return false;
      }
    }
    const key = this.key.forLog(logId);
    const note = signCheckpoint({ origin: key.name, size, rootHash: root }, key);
    await insertCheckpoint(this.db, { account_id: logId, size, root, note });
    return true;
  }
}
