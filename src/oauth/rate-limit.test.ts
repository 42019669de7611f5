import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limit.js';

describe('RateLimiter', () => {
  it('admits the limit per key per window, then refuses with Retry-After until the window ends', () => {
    const limiter = new RateLimiter(2, 60_000);
    limiter.take('a', 1_000);
    limiter.take('a', 2_000);
    limiter.take('b', 2_000);
    let error: unknown;
    try {
      limiter.take('a', 31_000);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'RATE_LIMITED', httpStatus: 429, headers: { 'retry-after': '29' } });
    expect(() => limiter.take('a', 61_000)).not.toThrow();
  });

  it('does nothing with a limit of 0', () => {
    const limiter = new RateLimiter(0);
    for (let i = 0; i < 1000; i++) limiter.take('a');
  });
});
