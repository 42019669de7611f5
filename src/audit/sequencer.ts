/**
 * The audit sequencer: gives committed entries their dense, gap-free index shortly after commit
 * (the Trillian/Tessera way), so that writers never queue on a counter row.
 *
 * Writers insert entries with no index in the same transaction as their change, then nudge the local
 * sequencer. Entries committed by other processes, and this process's group-committed records (reads,
 * refusals), are found by polling. Each pass numbers every log
 * that has waiting entries, under that log's row lock (store/audit.ts), so several processes on one
 * PostgreSQL never hand out an index twice. The same transaction adds the entries to the log's Merkle
 * tree. A crash loses nothing: entries committed before it are numbered by the next pass after restart.
 */
import type { Transaction } from 'kysely';
import type { Logger } from 'pino';
import { backoffDelay } from '../backoff.js';
import {
  listLogsWithUnsequenced,
  lockLogHead,
  numberInboxEntries,
  readNumberedEntries,
  setLogHead,
  type NumberedEntry,
} from '../store/audit.js';
import type { Database } from '../storage/schema.js';
import type { Executor } from '../store/executor.js';
import { insertTreeNodes, readTreeNodes } from '../store/tree.js';
import { leafHashOf } from './leaf.js';
import { nodesCompletedBy } from './merkle.js';

export interface SequencerOptions {
  intervalMs: number;
  batch: number;
  logger?: Logger | undefined;
  /** Told of the entries each pass numbered, once committed (the metrics count them). */
  onNumbered?: ((entries: NumberedEntry[]) => void) | undefined;
  /** Run inside each pass's transaction for the entries it numbered (see InPass). */
  inPass?: InPass | undefined;
}

/**
 * Work that must happen exactly once per numbered entry, and only for committed ones: it runs inside the
 * transaction that numbers them (so it commits, or rolls back, with their numbering), and may return a
 * function to call once that transaction committed. The notifications' fan-out is one (notify/fan-out.ts).
 */
export type InPass = (
  trx: Transaction<Database>,
  logId: string,
  fresh: NumberedEntry[],
) => Promise<(() => void) | undefined | void>;

/**
 * Nudges within this window share one pass: on a busy log each pass numbers many entries, instead of
 * one transaction per commit competing with the writers.
 */
const COALESCE_MS = 50;

export class Sequencer {
  private timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (performance.now() time). */
  private due = Infinity;
  private running: Promise<void> | undefined;
  private pending = false;
  private stopped = true;
  /** Failed passes in a row: the poll backs off while the database is away (a nudge still runs at once). */
  private failures = 0;

  constructor(
    private readonly db: Executor,
    private readonly options: SequencerOptions,
  ) {}

  start(): void {
    this.stopped = false;
    this.nudge();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.due = Infinity;
    await this.running;
  }

  /** Something committed entries: number them within a few milliseconds. */
  nudge(): void {
    this.pending = true;
    this.schedule(COALESCE_MS);
  }

  /** Numbers everything committed so far (also when stopped); resolves when nothing is left. */
  async drain(): Promise<void> {
    while ((await this.pass()) > 0);
  }

  /**
   * Arms the timer to fire within `delayMs`; an earlier one already armed stands (a throttle, not a
   * debounce). A timer that is overdue fires from here: on the embedded database queries complete as
   * microtasks, so a busy process may not reach its timers for a long while.
   */
  private schedule(delayMs: number): void {
    if (this.stopped || this.running) return;
    const now = performance.now();
    if (this.due <= now) return this.fire();
    if (this.due <= now + delayMs) return;
    clearTimeout(this.timer);
    this.due = now + delayMs;
    this.timer = setTimeout(() => this.fire(), delayMs);
  }

  private fire(): void {
    clearTimeout(this.timer);
    this.due = Infinity;
    if (this.stopped || this.running) return;
    // Commits during the pass set `pending` again; the poll finds entries of other processes.
    this.pending = false;
    this.running = this.pass()
      .then(
        (numbered) => {
          this.failures = 0;
          if (numbered >= this.options.batch) this.pending = true;
        },
        (error: unknown) => {
          this.failures++;
          this.options.logger?.error({ err: error }, 'audit sequencer pass failed; retrying');
        },
      )
      .finally(() => {
        this.running = undefined;
        this.schedule(this.pending ? COALESCE_MS : backoffDelay(this.options.intervalMs, this.failures));
      });
  }

  /** One pass over every log with waiting entries. Returns how many entries it numbered. */
  private async pass(): Promise<number> {
    let total = 0;
    for (const accountId of await listLogsWithUnsequenced(this.db)) {
      total += await sequenceLog(this.db, accountId, this.options.batch, this.options);
    }
    return total;
  }
}

/**
 * Numbers up to `limit` waiting entries of one log and adds them to its Merkle tree, in one
 * transaction under the log's row lock, so a crash leaves both as they were. The tree normally covers
 * exactly the numbered entries; entries numbered before the tree existed are added first, `limit` at a
 * time. Returns how many entries were numbered or added to the tree.
 */
export async function sequenceLog(
  db: Executor,
  logId: string,
  limit: number,
  hooks: Pick<SequencerOptions, 'onNumbered' | 'inPass'> = {},
): Promise<number> {
  const { count, fresh, committed } = await db.transaction().execute(async (trx) => {
    const head = await lockLogHead(trx, logId);
    const fresh = await numberInboxEntries(trx, logId, head.size, limit);
    let leaves = fresh;
    if (head.tree_size < head.size) {
      const behind = await readNumberedEntries(trx, logId, head.tree_size, Math.min(head.size, head.tree_size + limit));
      leaves = head.tree_size + behind.length === head.size ? [...behind, ...fresh] : behind;
    }
    if (leaves.length > 0) {
      const nodes = await nodesCompletedBy(head.tree_size, leaves.map(leafHashOf), (ids) =>
        readTreeNodes(trx, logId, ids),
      );
      await insertTreeNodes(trx, logId, nodes);
    }
    if (fresh.length > 0 || leaves.length > 0)
      await setLogHead(trx, logId, { size: head.size + fresh.length, tree_size: head.tree_size + leaves.length });
    const committed = fresh.length > 0 ? await hooks.inPass?.(trx, logId, fresh) : undefined;
    return { count: Math.max(fresh.length, leaves.length), fresh, committed };
  });
  committed?.();
  if (fresh.length > 0) hooks.onNumbered?.(fresh);
  return count;
}
