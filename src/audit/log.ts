/**
 * The audit log as the services see it: append inside the caller's transaction, or record through the
 * group commit when there is no other write. The Merkle tree, checkpoints and proofs over the numbered
 * entries build on this (the audit-log issue).
 */
import type { Transaction } from 'kysely';
import type { Database } from '../storage/schema.js';
import { insertAuditEntries } from '../store/audit.js';
import type { Executor } from '../store/executor.js';
import { toAuditRow, type AuditEntryInput } from './entry.js';
import { GroupCommit } from './group-commit.js';
import { Sequencer, type SequencerOptions } from './sequencer.js';

export interface AuditLogOptions {
  sequencerIntervalMs: number;
  sequencerBatch: number;
  groupCommitMaxBatch: number;
  groupCommitConcurrency: number;
  groupCommitMaxQueue: number;
  logger?: import('pino').Logger | undefined;
  /** Told of the entries the sequencer numbered (see Sequencer). */
  onNumbered?: SequencerOptions['onNumbered'];
  /** Run inside each sequencing transaction (see Sequencer). */
  inPass?: SequencerOptions['inPass'];
}

export class AuditLog {
  readonly sequencer: Sequencer;
  private readonly groupCommit: GroupCommit;

  constructor(
    private readonly db: Executor,
    options: AuditLogOptions,
  ) {
    this.sequencer = new Sequencer(db, {
      intervalMs: options.sequencerIntervalMs,
      batch: options.sequencerBatch,
      logger: options.logger,
      onNumbered: options.onNumbered,
      inPass: options.inPass,
    });
    // Records (reads, refusals) reach the log by the sequencer's poll, not a nudge per batch: under a
    // stream of reads, a nudge every commit meant a sequencing transaction every 10 ms competing with the
    // reads themselves, where a poll moves the same entries in a few larger batches.
    this.groupCommit = new GroupCommit(db, {
      maxBatch: options.groupCommitMaxBatch,
      concurrency: options.groupCommitConcurrency,
      maxQueue: options.groupCommitMaxQueue,
    });
  }

  /** Appends entries inside `trx`: they commit, or vanish, with the change they record. */
  append(trx: Transaction<Database>, entries: AuditEntryInput | AuditEntryInput[]): Promise<void> {
    return insertAuditEntries(trx, (Array.isArray(entries) ? entries : [entries]).map(toAuditRow));
  }

  /** Records an entry that has no other write, through the group commit; resolves once durable. */
  record(entry: AuditEntryInput): Promise<void> {
    return this.groupCommit.append(toAuditRow(entry));
  }

  /** Records waiting in the group commit for a batch. */
  get groupCommitDepth(): number {
    return this.groupCommit.depth;
  }

  /** Waits for records still in the group commit. */
  settle(): Promise<void> {
    return this.groupCommit.settle();
  }

  /**
   * Runs `fn` in a transaction and, once it has committed, wakes the sequencer. Every service that
   * appends entries runs its transaction through here.
   */
  async transact<T>(fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    const result = await this.db.transaction().execute(fn);
    this.sequencer.nudge();
    return result;
  }
}
