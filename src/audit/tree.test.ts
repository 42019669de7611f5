import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { describeBackends, useFreshCore } from '../../test/support/backends.js';
import { testCtx } from '../../test/support/fixtures.js';
import { createAccount } from '../directory/accounts.js';
import { getLogSize, readNumberedEntries } from '../store/audit.js';
import { readTreeNodes } from '../store/tree.js';
import { leafData, leafHashOf } from './leaf.js';
import { sequenceLog } from './sequencer.js';
import {
  hashLeaf,
  inclusionPlan,
  nodesCompletedBy,
  resolvePlan,
  rootAt,
  verifyInclusion,
  type Hash,
  type NodeReader,
} from './merkle.js';

/** The root of these leaves, computed in memory from scratch. */
async function rootOf(leaves: Hash[]): Promise<Hash> {
  const nodes = new Map<string, Hash>();
  const read: NodeReader = async (ids) => ids.map(({ level, index }) => nodes.get(`${level}/${index}`)!);
  for (const node of await nodesCompletedBy(0, leaves, read)) nodes.set(`${node.level}/${node.index}`, node.hash);
  return rootAt(leaves.length, read);
}

describeBackends('audit Merkle tree', (backend) => {
  const t = useFreshCore(backend);

  const setup = async (records: number) => {
    const { account } = await createAccount(t.core.directory, testCtx, {
      name: 'A',
      owner: { email: 'o@a.example', display_name: 'O' },
    });
    await Promise.all(
      Array.from({ length: records }, (_, i) =>
        t.core.audit.record({
          accountId: account.id,
          ctx: testCtx,
          action: 'user.read',
          target: { type: 'user', id: `U${i}` },
          outcome: 'read',
          details: { i, note: 'ü\u2028"' },
        }),
      ),
    );
    await t.core.audit.sequencer.drain();
    const size = await getLogSize(t.core.database.db, account.id);
    return {
      logId: account.id,
      size,
      read: ((ids) => readTreeNodes(t.core.database.db, account.id, ids)) as NodeReader,
    };
  };

  it('keeps the tree in step with the numbered entries: the stored root is the root of their leaves', async () => {
    const { logId, size, read } = await setup(300);
    const entries = await readNumberedEntries(t.core.database.db, logId, 0, size);
    expect(entries.map((e) => e.idx)).toEqual(Array.from({ length: size }, (_, i) => i));
    expect(JSON.parse(leafData(entries[0]!))).toMatchObject({ log: logId, index: 0, action: 'account.create' });
    expect(entries[5]!.recorded_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const leaves = entries.map(leafHashOf);
    expect((await rootAt(size, read)).equals(await rootOf(leaves))).toBe(true);
    expect((await rootAt(100, read)).equals(await rootOf(leaves.slice(0, 100)))).toBe(true);
    const m = 123;
    expect(
      verifyInclusion(leaves[m]!, m, size, await resolvePlan(inclusionPlan(m, size), read), await rootAt(size, read)),
    ).toBe(true);
    const { rows } = await sql<{
      tree_size: number;
    }>`SELECT tree_size FROM audit_logs WHERE account_id = ${logId}`.execute(t.core.database.db);
    expect(rows[0]!.tree_size).toBe(size);
  });

  it('builds the tree of entries numbered before it existed, a batch at a time', async () => {
    const { logId, size, read } = await setup(40);
    const before = await rootAt(size, read);
    await t.core.audit.sequencer.stop(); // this test runs the passes itself
    await sql`DELETE FROM audit_tree_nodes WHERE account_id = ${logId}`.execute(t.core.database.db);
    await sql`UPDATE audit_logs SET tree_size = 0 WHERE account_id = ${logId}`.execute(t.core.database.db);
    await t.core.audit.record({
      accountId: logId,
      ctx: testCtx,
      action: 'user.read',
      target: { type: 'user', id: 'late' },
      outcome: 'read',
    });
    await t.core.audit.settle();
    expect(await sequenceLog(t.core.database.db, logId, 16)).toBe(16); // 16 old entries; the new one waits its turn
    const { rows } = await sql<{
      size: number;
      tree_size: number;
    }>`SELECT size, tree_size FROM audit_logs WHERE account_id = ${logId}`.execute(t.core.database.db);
    expect(rows[0]).toEqual({ size: size + 1, tree_size: 16 });
    await t.core.audit.sequencer.drain();
    const entries = await readNumberedEntries(t.core.database.db, logId, 0, size + 1);
    expect(entries.at(-1)!.target_id).toBe('late');
    expect((await rootAt(size, read)).equals(before)).toBe(true);
    expect((await rootAt(size + 1, read)).equals(await rootOf(entries.map(leafHashOf)))).toBe(true);
  });

  it('makes the leaf the canonical JSON of the entry, bound to its log and index', async () => {
    const { logId } = await setup(1);
    const [entry] = await readNumberedEntries(t.core.database.db, logId, 0, 1);
    const moved = { ...entry!, idx: 1 };
    expect(leafHashOf(moved).equals(leafHashOf(entry!))).toBe(false);
    expect(leafHashOf({ ...entry!, account_id: 'OTHER' }).equals(leafHashOf(entry!))).toBe(false);
    expect(leafHashOf(entry!).equals(hashLeaf(Buffer.from(leafData(entry!))))).toBe(true);
    expect(leafData(entry!)).toBe(
      leafData({ ...entry!, details: Object.fromEntries(Object.entries(entry!.details).reverse()) }),
    );
  });
});
