import { describe, expect, it } from 'vitest';
import type { AuditEntryInput } from './entry.js';
import type { AuditLog } from './log.js';
import { UnauthenticatedRefusals } from './unauthenticated-refusals.js';

/** An audit log that keeps what it is given (failing the first `failures` records). */
function fakeLog(failures = 0) {
  const recorded: AuditEntryInput[] = [];
  let left = failures;
  const log = {
    record: async (entry: AuditEntryInput) =>
      left-- > 0 ? Promise.reject(new Error('database gone')) : void recorded.push(entry),
  };
  return { log: log as unknown as AuditLog, recorded };
}

describe('unauthenticated refusals', () => {
  it(
    'writes one system-log entry per address and closed ' + 'window, with counts, route patterns and statuses',
    async () => {
      const { log, recorded } = fakeLog();
      const tally = new UnauthenticatedRefusals(log, { windowSeconds: 60 });
      for (let i = 0; i < 7; i++)
        tally.count('203.0.113.7', 'GET /v1/accounts/:account/users', i < 5 ? 401 : 429, 60_000 + i);
      tally.count('203.0.113.7', 'GET unmatched', 404, 61_000);
      tally.count('198.51.100.1', 'POST /v1/accounts/:account/users/:user:suspend', 401, 119_999);
      tally.count('203.0.113.7', 'GET unmatched', 404, 120_000); // the next window
      await tally.flush(119_999);
      expect(recorded).toEqual([]);
      await tally.flush(120_000);
      expect(recorded).toEqual([
        {
          accountId: 'SYSTEM',
          ctx: { actor: { type: 'anonymous', id: '203.0.113.7' }, authz: { method: 'none' } },
          action: 'http.unauthenticated_refusals',
          target: { type: 'address', id: '203.0.113.7' },
          outcome: 'refused',
          details: {
            address: '203.0.113.7',
            window_start: '1970-01-01T00:01:00.000Z',
            window_seconds: 60,
            count: 8,
            routes: [
              { route: 'GET /v1/accounts/:account/users', count: 7 },
              { route: 'GET unmatched', count: 1 },
            ],
            statuses: { '401': 5, '404': 1, '429': 2 },
          },
        },
        expect.objectContaining({
          target: { type: 'address', id: '198.51.100.1' },
          details: expect.objectContaining({ count: 1, statuses: { '401': 1 } }),
        }),
      ]);
      await tally.close();
      expect(recorded.slice(2).map((e) => [e.target.id, (e.details as { window_start: string }).window_start])).toEqual(
        [['203.0.113.7', '1970-01-01T00:02:00.000Z']],
      );
    },
  );

  it('gives at most maxAddresses addresses an entry of their own per window; the rest share one', async () => {
    const { log, recorded } = fakeLog();
    const tally = new UnauthenticatedRefusals(log, { windowSeconds: 60, maxAddresses: 3 });
    for (let i = 0; i < 1000; i++) tally.count(`10.0.${i >> 8}.${i & 255}`, 'GET unmatched', 404, 1000);
    await tally.flush(60_000);
    expect(recorded.map((e) => [e.target.id, (e.details as { count: number }).count])).toEqual([
      ['10.0.0.0', 1],
      ['10.0.0.1', 1],
      ['10.0.0.2', 1],
      ['other', 997],
    ]);
    expect(recorded[3]!.details).toMatchObject({ overflow: true });
  });

  it('keeps what it could not write, and writes it on the next pass', async () => {
    const { log, recorded } = fakeLog(1);
    const tally = new UnauthenticatedRefusals(log, { windowSeconds: 1 });
    tally.count('203.0.113.7', 'GET unmatched', 404, 0);
    await expect(tally.flush(1000)).rejects.toThrow('database gone');
    tally.count('203.0.113.7', 'GET unmatched', 404, 500); // late, into the window that failed
    await tally.flush(1000);
    expect(recorded.map((e) => (e.details as { count: number }).count)).toEqual([2]);
  });
});
