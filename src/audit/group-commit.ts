/**
 * Group commit for high-volume audit records that carry no other write (token issuance, reads,
 * refusals): concurrent callers share one INSERT, and each is answered only once its record is durable.
 * Up to `concurrency` batches are in flight at once; PostgreSQL merges their WAL flushes. At most
 * `maxQueue` records wait beyond those: when PostgreSQL is slow or away, a caller past the bound is
 * answered 503 at once rather than held in memory without limit.
 */
import { unavailable } from '../errors.js';
import { insertAuditEntries, type AuditEntryValues } from '../store/audit.js';
import { isDataError } from '../store/errors.js';
import type { Executor } from '../store/executor.js';

interface Pending {
  row: AuditEntryValues;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export interface GroupCommitOptions {
  maxBatch: number;
  concurrency: number;
  /** Most records waiting for a batch (not counting those being written). */
  maxQueue: number;
  /** Called after every committed batch (the sequencer's nudge). */
  onCommitted?: () => void;
}

export class GroupCommit {
  private queue: Pending[] = [];
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly db: Executor,
    private readonly options: GroupCommitOptions,
  ) {}

  /** Records waiting for a batch, not counting those being written (the metrics' queue depth). */
  get depth(): number {
    return this.queue.length;
  }

  append(row: AuditEntryValues): Promise<void> {
    if (this.queue.length >= this.options.maxQueue)
      return Promise.reject(unavailable('the audit log is not keeping up; try again shortly'));
    return new Promise((resolve, reject) => {
      // Records handed in during one turn of the event loop go out together, not the first one alone.
      if (this.queue.push({ row, resolve, reject }) === 1) setImmediate(() => this.pump());
    });
  }

  private pump(): void {
    while (this.inFlight.size < this.options.concurrency && this.queue.length > 0) {
      const flushing = this.flush(this.queue.splice(0, this.options.maxBatch)).finally(() => {
        this.inFlight.delete(flushing);
        this.pump();
      });
      this.inFlight.add(flushing);
    }
  }

  /** Resolves once every record handed in so far has been written (or has failed). */
  async settle(): Promise<void> {
    this.pump();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async flush(batch: Pending[]): Promise<void> {
    try {
      await insertAuditEntries(
        this.db,
        batch.map((p) => p.row),
      );
    } catch (error) {
      // One bad record must not fail its neighbours: when PostgreSQL refused the data (so nothing was
      // written), retry them one by one. Any other failure (a lost connection) may have committed: retrying
      // could write records twice, so every caller gets the error.
      if (batch.length > 1 && isDataError(error)) {
        await Promise.all(batch.map((p) => this.flush([p])));
      } else {
        for (const p of batch) p.reject(error);
      }
      return;
    }
    this.options.onCommitted?.();
    for (const p of batch) p.resolve();
  }
}
