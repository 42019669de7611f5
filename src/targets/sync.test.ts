import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { describeBackends, useSharedCore } from '../../test/support/backends.js';
import { fakeTarget, person, type FakeTarget } from '../../test/support/fake-target.js';
import { seedAccount, testCtx } from '../../test/support/fixtures.js';
import { findIdentitiesByHints, findTarget, listIdentities } from '../store/targets.js';
import { listAuditEntries } from '../store/audit.js';
import { createTarget } from './registry.js';
import { SyncWorker, syncSubject } from './sync.js';

/**
 * The scheduled mirror: due targets claimed under a lease (two nodes never walk one target at once), a
 * walk page by page, and the lookup a signal's subject resolves through.
 */
describeBackends('target sync', (backend) => {
  const t = useSharedCore(backend);
  let fake: FakeTarget;
  let restore: () => void;
  let accountId: string;

  beforeAll(async () => {
    await t.core.syncWorker.stop();
    fake = fakeTarget();
    restore = fake.install('scim');
  });
  afterAll(() => restore());
  beforeEach(async () => {
    accountId = (await seedAccount(t.core, 0)).accountId;
    fake.users.clear();
  });

  const connect = (name: string, enabled = true) =>
    createTarget(t.core.targets, testCtx, accountId, {
      name,
      kind: 'scim',
      config: { base_url: `https://${name}.example/scim/v2` },
      credentials: { token: `token-${name}` },
      enabled,
    });
  const syncEntries = async () => {
    await t.core.audit.settle();
    return (await listAuditEntries(t.core.database.db, { accountId, includeUnsequenced: true })).filter(
      (e) => e.action === 'target.sync',
    );
  };

  it('syncs each due target once across two nodes, then not again until its interval passes', async () => {
    fake.users.set('a', person('a', 'ann@x.example'));
    const one = await connect('one');
    const two = await connect('two');
    await connect('off', false);
    const [first, second] = [
      new SyncWorker(t.core.targets, { intervalMs: 60_000 }),
      new SyncWorker(t.core.targets, { intervalMs: 60_000 }),
    ];
    const results = (await Promise.all([first.pass(), second.pass()]))
      .flat()
      .filter((r) => [one.id, two.id].includes(r.target_id));
    expect(results.map((r) => r.target_id).sort()).toEqual([one.id, two.id].sort());
    const entries = await syncEntries();
    expect(entries.map((e) => [e.target_id, e.actor_type, e.actor_id, e.outcome, e.details.seen]).sort()).toEqual(
      [
        [one.id, 'system', 'target-sync', 'changed', 1],
        [two.id, 'system', 'target-sync', 'changed', 1],
      ].sort(),
    );
    expect(await first.pass()).toEqual([]);
    await t.core.database.db
      .updateTable('targets')
      .set({ last_sync_at: sql<Date>`now() - interval '2 hours'` as unknown as Date })
      .where('account_id', '=', accountId)
      .where('id', '=', one.id)
      .execute();
    // A lease another node holds keeps the target from this one, due or not.
    await t.core.database.db
      .updateTable('targets')
      .set({ last_sync_at: null, sync_lease_until: sql<Date>`now() + interval '1 minute'` as unknown as Date })
      .where('account_id', '=', accountId)
      .where('id', '=', two.id)
      .execute();
    expect((await second.pass()).map((r) => r.target_id)).toEqual([one.id]);
    const row = await findTarget(t.core.database.db, accountId, one.id);
    expect(row).toMatchObject({ sync_lease_until: null, last_sync_error: null });
  });

  it('waits before walking a target whose last walk failed', async () => {
    const bad = await createTarget(t.core.targets, testCtx, accountId, {
      name: 'bad',
      kind: 'scim',
      config: { base_url: 'https://bad.example' },
      credentials: { token: 'wrong-token' },
    });
    const worker = new SyncWorker(t.core.targets, { intervalMs: 60_000 });
    const failed = (await worker.pass()).filter((r) => r.target_id === bad.id);
    expect(failed).toMatchObject([{ ok: false, error: { class: 'auth', status: 401 } }]);
    expect((await worker.pass()).filter((r) => r.target_id === bad.id)).toEqual([]);
    await t.core.database.db
      .updateTable('targets')
      .set({ sync_failed_at: sql<Date>`now() - interval '6 minutes'` as unknown as Date })
      .where('account_id', '=', accountId)
      .execute();
    expect((await worker.pass()).map((r) => r.target_id)).toEqual([bad.id]);
    expect((await syncEntries()).map((e) => [e.outcome, e.details.ok])).toEqual([
      ['unchanged', false],
      ['unchanged', false],
    ]);
  });

  it('walks a large target page by page, upserting each page as it comes', async () => {
    fake.pageSize = 1000;
    for (let i = 0; i < 2500; i++)
      fake.users.set(`id-${String(i).padStart(5, '0')}`, person(`id-${i}`, `u${i}@x.example`));
    const target = await connect('big');
    fake.listed.length = 0;
    const [result] = (await new SyncWorker(t.core.targets, { intervalMs: 60_000 }).pass()).filter(
      (r) => r.target_id === target.id,
    );
    expect(result).toEqual({ target_id: target.id, mode: 'full', ok: true, seen: 2500, removed: 0, pages: 3 });
    expect(fake.listed).toEqual([undefined, '1000', '2000']);
    const page = await listIdentities(t.core.database.db, accountId, target.id, { limit: 3000 });
    expect(page).toHaveLength(2500);
    fake.pageSize = 2;
  });

  it('resolves a subject through the mirror, case-insensitively, only on the targets asked', async () => {
    fake.users.set('e1', person('e1', 'Eve@X.example'));
    const a = await connect('a');
    const b = await connect('b');
    const rowA = (await findTarget(t.core.database.db, accountId, a.id))!;
    const rowB = (await findTarget(t.core.database.db, accountId, b.id))!;
    expect(await syncSubject(t.core.targets, rowA, { email: 'eve@x.example' }, testCtx)).toMatchObject({ seen: 1 });
    expect(await syncSubject(t.core.targets, rowB, { email: 'eve@x.example' }, testCtx)).toMatchObject({ seen: 1 });
    const found = await findIdentitiesByHints(t.core.database.db, accountId, { emails: ['EVE@x.EXAMPLE'] });
    expect(found.map((i) => [i.target_id, i.external_id]).sort()).toEqual(
      [
        [a.id, 'e1'],
        [b.id, 'e1'],
      ].sort(),
    );
    expect(
      (await findIdentitiesByHints(t.core.database.db, accountId, { userNames: ['eve@x.example'] }, [b.id])).map(
        (i) => i.target_id,
      ),
    ).toEqual([b.id]);
    expect(await findIdentitiesByHints(t.core.database.db, accountId, { externalIds: ['e1'] }, [])).toEqual([]);
    const other = (await seedAccount(t.core, 0)).accountId;
    expect(await findIdentitiesByHints(t.core.database.db, other, { emails: ['eve@x.example'] })).toEqual([]);
  });
});
