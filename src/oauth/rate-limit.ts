/**
 * Fixed-window request counters for the client-authenticated OAuth endpoints: per presented client_id
 * and per source address, so that guessing secrets or flooding the token endpoint is slowed down.
 * Counted in this process: with N nodes the effective limit is up to N times the setting.
 */
import { AppError } from '../errors.js';

export class RateLimiter {
  private windowStart = 0;
  private counts = new Map<string, number>();

  constructor(
    private readonly perWindow: number,
    private readonly windowMs = 60_000,
  ) {}

  /** Counts one request for `key`; throws RATE_LIMITED with Retry-After past the limit (0 = no limit). */
  take(key: string, now = Date.now()): void {
    if (this.perWindow === 0) return;
    if (now >= this.windowStart + this.windowMs) {
      this.windowStart = now;
      this.counts = new Map();
    }
    const count = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, count);
    if (count > this.perWindow) {
      const retryAfter = Math.max(1, Math.ceil((this.windowStart + this.windowMs - now) / 1000));
      throw new AppError('RATE_LIMITED', { description: 'too many requests; retry later', headers: { 'retry-after': String(retryAfter) } });
    }
  }
}
