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

export class Sequencer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
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

  /** Something committed entries: run a pass now (or right after the one in progress). */
  nudge(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.loop().finally(() => {
      this.running = undefined;
      if (!this.stopped) this.timer = setTimeout(() => this.nudge(), this.options.intervalMs);
    });
  }

  /** Numbers everything committed so far (also when stopped); resolves when nothing is left. */
  async drain(): Promise<void> {
    while ((await this.pass()) > 0);
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      let numbered = 0;
      try {
        numbered = await this.pass();
      } catch (error) {
        this.options.logger?.error({ err: error }, 'audit sequencer pass failed; retrying');
        return;
      }
      if (numbered >= this.options.batch) this.again = true;
    } while (this.again && !this.stopped);
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
