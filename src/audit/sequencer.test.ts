import { afterEach, beforeEach, expect, it } from 'vitest';
import { createTestDatabase, describeBackends, openTestCore, type TestDatabase } from '../../test/support/backends.js';
import { testCtx } from '../../test/support/fixtures.js';
import type { Core } from '../app.js';
import { createAccount } from '../directory/accounts.js';
import { getLogSize, listAuditEntries } from '../store/audit.js';
import { Sequencer } from './sequencer.js';

describeBackends('audit append, group commit and sequencer', (backend) => {
  let database: TestDatabase;
  let core: Core;
  let accountId: string;

  beforeEach(async () => {
    database = await createTestDatabase(backend);
    core = await openTestCore(database);
    ({ account: { id: accountId } } = await createAccount(core.directory, testCtx, { name: 'A', owner: { email: 'o@a.example', display_name: 'O' } }));
  });
  afterEach(async () => {
    await core.close();
    await database.drop();
  });

  const record = (i: number, account = accountId) =>
    core.audit.record({ accountId: account, ctx: testCtx, action: 'user.read', target: { type: 'user', id: `U${i}` }, outcome: 'read', details: { i } });

  const countReads = async () =>
    (await listAuditEntries(core.database.db, { accountId, includeUnsequenced: true })).filter((e) => e.action === 'user.read').length;

  it('answers each group-committed record only once it is durable, and numbers every one densely', async () => {
    await Promise.all(Array.from({ length: 500 }, (_, i) => record(i)));
    // Durable on return: the rows are there before any sequencing is awaited.
    expect(await countReads()).toBe(500);

    await core.audit.sequencer.drain();
    const entries = await listAuditEntries(core.database.db, { accountId });
    expect(entries.map((e) => e.idx)).toEqual(entries.map((_, i) => i));
    expect(await getLogSize(core.database.db, accountId)).toBe(entries.length);
    const reads = entries.filter((e) => e.action === 'user.read').map((e) => (e.details as { i: number }).i);
    expect(reads.sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });

  it('keeps one log per account, each dense from 0', async () => {
    const { account: other } = await createAccount(core.directory, testCtx, { name: 'B', owner: { email: 'o@b.example', display_name: 'O' } });
    await Promise.all(Array.from({ length: 60 }, (_, i) => record(i, i % 2 ? accountId : other.id)));
    await core.audit.sequencer.drain();
    for (const id of [accountId, other.id]) {
      const entries = await listAuditEntries(core.database.db, { accountId: id });
      expect(entries.map((e) => e.idx)).toEqual(entries.map((_, i) => i));
      expect(entries.every((e) => e.account_id === id)).toBe(true);
    }
  });

  it('a failing record does not fail the records batched with it', async () => {
    const bad = core.audit.record({ accountId, ctx: testCtx, action: 'x', target: { type: 'user', id: 'U' }, outcome: 'bogus' as never });
    const good = Array.from({ length: 20 }, (_, i) => record(i));
    await expect(bad).rejects.toThrow();
    await Promise.all(good);
    expect(await countReads()).toBe(20);
  });

  it('several sequencers racing on one database never hand out an index twice', async () => {
    await core.audit.sequencer.stop();
    const writers = Promise.all(Array.from({ length: 300 }, (_, i) => record(i)));
    const racers = Array.from({ length: 3 }, () => new Sequencer(core.database.db, { intervalMs: 5, batch: 7 }));
    for (const s of racers) s.start();
    await writers;
    await Promise.all(racers.map((s) => s.drain()));
    await Promise.all(racers.map((s) => s.stop()));
    const entries = await listAuditEntries(core.database.db, { accountId, includeUnsequenced: true });
    expect(entries.map((e) => e.idx)).toEqual(entries.map((_, i) => i));
    expect(await getLogSize(core.database.db, accountId)).toBe(entries.length);
  });

  it('entries committed while no sequencer runs are numbered after a restart', async () => {
    await core.audit.sequencer.stop();
    await core.audit.sequencer.drain();
    await Promise.all(Array.from({ length: 10 }, (_, i) => record(i)));
    const waiting = await listAuditEntries(core.database.db, { accountId, includeUnsequenced: true });
    expect(waiting.filter((e) => e.idx === null)).toHaveLength(10);
    core.audit.sequencer.start();
    await core.audit.sequencer.drain();
    const entries = await listAuditEntries(core.database.db, { accountId });
    expect(entries).toHaveLength(waiting.length);
    expect(entries.map((e) => e.idx)).toEqual(entries.map((_, i) => i));
  });
});
