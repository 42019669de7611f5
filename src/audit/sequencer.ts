/**
 * The audit sequencer: gives committed entries their dense, gap-free index shortly after commit
 * (the Trillian/Tessera way), so that writers never queue on a counter row.
 *
 * Writers insert entries with no index in the same transaction as their change, then nudge the local
 * sequencer. Entries committed by other processes are found by polling. Each pass numbers every log
 * that has waiting entries, under that log's row lock (store/audit.ts), so several processes on one
 * PostgreSQL never hand out an index twice. A crash loses nothing: entries committed before it are
 * numbered by the next pass after restart.
 */
import type { Logger } from 'pino';
import { listLogsWithUnsequenced, sequenceLog } from '../store/audit.js';
import type { Executor } from '../store/executor.js';

export interface SequencerOptions {
  intervalMs: number;
  batch: number;
  logger?: Logger | undefined;
}

/**
 * Nudges within this window share one pass: on a busy log each pass numbers many entries, instead of
 * one transaction per commit competing with the writers.
 */
const COALESCE_MS = 5;

export class Sequencer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private pending = false;
  private stopped = true;

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

  private schedule(delayMs: number): void {
    if (this.stopped || this.running) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.loop().finally(() => {
        this.running = undefined;
        if (this.pending) this.schedule(COALESCE_MS);
        else this.schedule(this.options.intervalMs);
      });
    }, delayMs);
  }

  private async loop(): Promise<void> {
    // The poll finds entries committed by other processes.
    this.pending = true;
    while (this.pending && !this.stopped) {
      this.pending = false;
      try {
        if ((await this.pass()) >= this.options.batch) this.pending = true;
      } catch (error) {
        this.options.logger?.error({ err: error }, 'audit sequencer pass failed; retrying');
        return;
      }
      if (this.pending) await new Promise((resolve) => setTimeout(resolve, COALESCE_MS));
    }
  }

  /** One pass over every log with waiting entries. Returns how many entries it numbered. */
  private async pass(): Promise<number> {
    let total = 0;
    for (const accountId of await listLogsWithUnsequenced(this.db)) {
      total += await sequenceLog(this.db, accountId, this.options.batch);
    }
    return total;
  }
}
