import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { connectionLost } from '../test/support/scripted-db.js';
import { Periodic } from './periodic.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], now: 0 });
});
afterEach(() => vi.useRealTimers());

/** The gaps between consecutive entries of `times`, the first from 0. */
const gaps = (times: number[]) => times.map((t, i) => t - (times[i - 1] ?? 0));

it(
  'backs off while its passes fail (the database away), ' + 'up to 2 s, and keeps its interval once one succeeds',
  async () => {
    const times: number[] = [];
    const errors: unknown[] = [];
    let away = true;
    const periodic = new Periodic(
      async () => {
        times.push(Date.now());
        if (away) throw connectionLost();
      },
      100,
      (error) => errors.push(error),
    );
    periodic.start();
    await vi.advanceTimersByTimeAsync(9_100);
    expect(gaps(times)).toEqual([100, 200, 400, 800, 1600, 2000, 2000, 2000]);
    expect(errors).toHaveLength(8);

    away = false;
    times.length = 0;
    await vi.advanceTimersByTimeAsync(2_400);
    // The failure-time gap, then the configured interval again.
    expect(gaps(times).slice(1)).toEqual([100, 100, 100, 100]);
    await periodic.stop();
  },
);

it('runs no pass after stop, and never two at once', async () => {
  let running = 0;
  let most = 0;
  let passes = 0;
  let release: () => void = () => undefined;
  const periodic = new Periodic(
    async () => {
      passes++;
      most = Math.max(most, ++running);
      await new Promise<void>((resolve) => (release = resolve));
      running--;
    },
    100,
    () => undefined,
  );
  periodic.start();
  await vi.advanceTimersByTimeAsync(1_000);
  expect([passes, most]).toEqual([1, 1]);
  const stopped = periodic.stop();
  release();
  await stopped;
  await vi.advanceTimersByTimeAsync(1_000);
  expect(passes).toBe(1);
});
