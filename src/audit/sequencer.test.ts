import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { describeBackends, useFreshCore } from '../../test/support/backends.js';
import { testCtx } from '../../test/support/fixtures.js';
import { connectionLost, scriptedDatabase } from '../../test/support/scripted-db.js';
import { createAccount } from '../directory/accounts.js';
import { getLogSize, listAuditEntries } from '../store/audit.js';
import { Sequencer } from './sequencer.js';

describeBackends('audit append, group commit and sequencer', (backend) => {
  const t = useFreshCore(backend);
  let accountId: string;

  beforeEach(async () => {
    ({
      account: { id: accountId },
    } = await createAccount(t.core.directory, testCtx, {
      name: 'A',
      owner: { email: 'o@a.example', display_name: 'O' },
    }));
  });

  const record = (i: number, account = accountId) =>
    t.core.audit.record({
      accountId: account,
      ctx: testCtx,
      action: 'user.read',
      target: { type: 'user', id: `U${i}` },
      outcome: 'read',
      details: { i },
    });

  const countReads = async () =>
    (await listAuditEntries(t.core.database.db, { accountId, includeUnsequenced: true })).filter(
      (e) => e.action === 'user.read',
    ).length;

  it('answers each group-committed record only once it is durable, and numbers every one densely', async () => {
    await Promise.all(Array.from({ length: 500 }, (_, i) => record(i)));
    // Durable on return: the rows are there before any sequencing is awaited.
    expect(await countReads()).toBe(500);

    await t.core.audit.sequencer.drain();
    const entries = await listAuditEntries(t.core.database.db, { accountId });
    expect(entries.map((e) => e.idx)).toEqual(entries.map((_, i) => i));
    expect(await getLogSize(t.core.database.db, accountId)).toBe(entries.length);
    const reads = entries.filter((e) => e.action === 'user.read').map((e) => (e.details as { i: number }).i);
    expect(reads.sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });

  it('keeps one log per account, each dense from 0', async () => {
    const { account: other } = await createAccount(t.core.directory, testCtx, {
      name: 'B',
      owner: { email: 'o@b.example', display_name: 'O' },
    });
    await Promise.all(Array.from({ length: 60 }, (_, i) => record(i, i % 2 ? accountId : other.id)));
    await t.core.audit.sequencer.drain();
    for (const id of [accountId, other.id]) {
      const entries = await listAuditEntries(t.core.database.db, { accountId: id });
      expect(entries.map((e) => e.idx)).toEqual(entries.map((_, i) => i));
      expect(entries.every((e) => e.account_id === id)).toBe(true);
    }
  });

  it('a failing record does not fail the records batched with it', async () => {
    const bad = t.core.audit.record({
      accountId,
      ctx: testCtx,
      action: 'user.read',
      target: { type: 'user', id: 'U' },
      outcome: 'bogus' as never,
    });
    const good = Array.from({ length: 20 }, (_, i) => record(i));
    await expect(bad).rejects.toThrow();
    await Promise.all(good);
    expect(await countReads()).toBe(20);
  });

  it('several sequencers racing on one database never hand out an index twice', async () => {
    await t.core.audit.sequencer.stop();
    const writers = Promise.all(Array.from({ length: 300 }, (_, i) => record(i)));
    const racers = Array.from({ length: 3 }, () => new Sequencer(t.core.database.db, { intervalMs: 5, batch: 7 }));
    for (const s of racers) s.start();
    await writers;
    await Promise.all(racers.map((s) => s.drain()));
    await Promise.all(racers.map((s) => s.stop()));
    const entries = await listAuditEntries(t.core.database.db, { accountId, includeUnsequenced: true });
    expect(entries.map((e) => e.idx)).toEqual(entries.map((_, i) => i));
    expect(await getLogSize(t.core.database.db, accountId)).toBe(entries.length);
  });

  it('entries committed while no sequencer runs are numbered after a restart', async () => {
    await t.core.audit.sequencer.stop();
    await t.core.audit.sequencer.drain();
    await Promise.all(Array.from({ length: 10 }, (_, i) => record(i)));
    const waiting = await listAuditEntries(t.core.database.db, { accountId, includeUnsequenced: true });
    expect(waiting.filter((e) => e.idx === null)).toHaveLength(10);
    t.core.audit.sequencer.start();
    await t.core.audit.sequencer.drain();
    const entries = await listAuditEntries(t.core.database.db, { accountId });
    expect(entries).toHaveLength(waiting.length);
    expect(entries.map((e) => e.idx)).toEqual(entries.map((_, i) => i));
  });
});

describe('audit sequencer without a database', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'], now: 0 });
  });
  afterEach(() => vi.useRealTimers());

  it(
    'backs off its poll while the database is away, and ' + 'a nudge (a commit went through) runs a pass at once',
    async () => {
      const passes: number[] = [];
      let away = true;
      const db = scriptedDatabase(async () => {
        passes.push(Date.now());
        if (away) throw connectionLost();
        return { rows: [] };
      });
      const sequencer = new Sequencer(db, { intervalMs: 100, batch: 10 });
      sequencer.start();
      await vi.advanceTimersByTimeAsync(7_050);
      // The start's nudge at 50 ms, then the poll: 200, 400, 800, 1600, 2000, 2000 ms apart.
      expect(passes).toEqual([50, 250, 650, 1450, 3050, 5050, 7050]);

      away = false;
      sequencer.nudge();
      await vi.advanceTimersByTimeAsync(50);
      expect(passes.at(-1)).toBe(7_100);
      // Back to the configured poll.
      await vi.advanceTimersByTimeAsync(200);
      expect(passes.slice(-3)).toEqual([7_100, 7_200, 7_300]);
      await sequencer.stop();
    },
  );
});
