import { describe, expect, it } from 'vitest';
import type { Connector } from './connector.js';
import { ConnectorCache } from './connectors.js';

const connector = (closed: string[], name: string) =>
  ({
    close: async () => {
      closed.push(name);
    },
  }) as unknown as Connector;

describe('the connector cache', () => {
  it('keeps one connector per target, replaced (and closed) only by newer credentials', async () => {
    const closed: string[] = [];
    const cache = new ConnectorCache();
    const first = cache.get('t', 0, () => connector(closed, 'first'));
    expect(cache.get('t', 0, () => connector(closed, 'never'))).toBe(first);
    const rotated = cache.get('t', 1000, () => connector(closed, 'rotated'));
    expect(rotated).not.toBe(first);
    // A caller with a row read before the rotation still gets the newer credentials' connector.
    expect(cache.get('t', 0, () => connector(closed, 'stale'))).toBe(rotated);
    await Promise.resolve();
    expect(closed).toEqual(['first']);
    await cache.drop('t');
    expect([closed, cache.holds('t')]).toEqual([['first', 'rotated'], false]);
    cache.get('u', 0, () => connector(closed, 'u'));
    await cache.closeAll();
    expect(closed).toEqual(['first', 'rotated', 'u']);
  });
});
