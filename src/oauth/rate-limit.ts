/**
 * Fixed-window request counters: the client-authenticated OAuth endpoints (per presented client_id and
 * per source address), sign-in (per address, and per address and email), and refusals of callers that
 * did not authenticate (per address). Counted in this process: with N nodes the effective limit is up
 * to N times the setting.
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
    const wait = this.hit(key, now);
    if (wait > 0) throw rateLimited(wait);
  }

  /** Counts one request for `key`; past the limit, the seconds until the window ends, else 0. */
  hit(key: string, now = Date.now()): number {
    if (this.perWindow === 0) return 0;
    if (now >= this.windowStart + this.windowMs) {
      this.windowStart = now;
      this.counts = new Map();
    }
    const count = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, count);
    return count > this.perWindow ? Math.max(1, Math.ceil((this.windowStart + this.windowMs - now) / 1000)) : 0;
  }
}

export function rateLimited(retryAfterSeconds: number): AppError {
  return new AppError('RATE_LIMITED', {
    description: 'too many requests; retry later',
    headers: { 'retry-after': String(retryAfterSeconds) },
  });
}
