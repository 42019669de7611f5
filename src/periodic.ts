import { backoffDelay } from './backoff.js';

/**
 * Runs `pass` every `intervalMs`, never two at once: each pass is timed from the end of the one
 * before. A failed pass (the database away, say) is reported, and the passes after it back off
 * (backoffDelay) until one succeeds; then the interval is as configured again.
 */
export class Periodic {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private started = false;
  /** Failed passes in a row. */
  private failures = 0;

  constructor(
    private readonly pass: () => Promise<unknown>,
    private readonly intervalMs: number,
    /** A failed pass is reported here; a later one tries again. */
    private readonly onError: (error: unknown) => void,
  ) {}

  start(): void {
    if (this.started) return;
    this.started = true;
    this.arm(this.intervalMs);
  }

  /** Stops the ticks and waits for the pass in flight, if any. */
  async stop(): Promise<void> {
    this.started = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private arm(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.running = this.pass()
        .then(
          () => (this.failures = 0),
          (error: unknown) => {
            this.failures++;
            this.onError(error);
          },
        )
        .finally(() => {
          this.running = undefined;
          if (this.started) this.arm(backoffDelay(this.intervalMs, this.failures));
        });
    }, delayMs);
  }
}
