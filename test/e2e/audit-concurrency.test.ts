import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { openCheckpoint } from '../../src/audit/checkpoint.js';
import { logOrigin } from '../../src/audit/checkpointer.js';
import { leafHashOf } from '../../src/audit/leaf.js';
import {
  consistencyPlan,
  nodesCompletedBy,
  resolvePlan,
  rootAt,
  verifyConsistency,
  type Hash,
  type NodeReader,
} from '../../src/audit/merkle.js';
import { parseVerifierKey } from '../../src/audit/note.js';
import { createAccount } from '../../src/directory/accounts.js';
import { getLogSize, readNumberedEntries } from '../../src/store/audit.js';
import { readTreeNodes } from '../../src/store/tree.js';
import { BACKENDS, createTestDatabase, openTestCore, type TestDatabase } from '../support/backends.js';
import { testCtx } from '../support/fixtures.js';

// Two nodes on one PostgreSQL: each with its own pool, sequencer and checkpointer, sharing only the
// database (PGlite is one process by design, so this is PostgreSQL only).
describe.skipIf(!BACKENDS.includes('postgres'))('two nodes appending to one audit log [postgres]', () => {
  let database: TestDatabase;
  let nodes: Core[];

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    const env = { CORDON_CHECKPOINT_INTERVAL_MS: '50', CORDON_SEQUENCER_INTERVAL_MS: '20' };
    nodes = [await openTestCore(database, env), await openTestCore(database, env)];
  });
  afterAll(async () => {
    for (const node of nodes) await node.close();
    await database.drop();
  });

  it('keeps the log dense and every checkpoint consistent with the one before', async () => {
    const [a, b] = nodes as [Core, Core];
    expect(a.checkpointKey.verifierKey).toBe(b.checkpointKey.verifierKey); // one key in the database for both
    const { account } = await createAccount(a.directory, testCtx, {
      name: 'Shared',
      owner: { email: 'o@shared.example', display_name: 'O' },
    });
    for (let round = 0; round < 8; round++) {
      await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          nodes[i % 2]!.audit.record({
            accountId: account.id,
            ctx: testCtx,
            action: 'user.read',
            target: { type: 'user', id: `R${round}-${i}` },
            outcome: 'read',
          }),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 80)); // let the checkpointers sign a few sizes
    }
    for (const node of nodes) await node.audit.sequencer.drain();
    await Promise.all(nodes.map((node) => node.checkpointer.pass()));

    const db = a.database.db;
    const size = await getLogSize(db, account.id);
    expect(size).toBe(1 + 1 + 8 * 60); // account.create, user.create, the reads
    const entries = await readNumberedEntries(db, account.id, 0, size);
    expect(entries.map((e) => e.idx)).toEqual(Array.from({ length: size }, (_, i) => i));

    const read: NodeReader = (ids) => readTreeNodes(db, account.id, ids);
    const leaves: Hash[] = entries.map(leafHashOf);
    const memory = new Map<string, Hash>();
    const fromMemory: NodeReader = async (ids) => ids.map(({ level, index }) => memory.get(`${level}/${index}`)!);
    for (const node of await nodesCompletedBy(0, leaves, fromMemory))
      memory.set(`${node.level}/${node.index}`, node.hash);
    expect((await rootAt(size, read)).equals(await rootAt(size, fromMemory))).toBe(true);

    const checkpoints = await db
      .selectFrom('audit_checkpoints')
      .selectAll()
      .where('account_id', '=', account.id)
      .orderBy('size')
      .execute();
    expect(checkpoints.length).toBeGreaterThan(3);
    expect(checkpoints.at(-1)!.size).toBe(size);
    const key = parseVerifierKey(a.checkpointKey.forLog(account.id).verifierKey);
    let previous: { size: number; root: Buffer } | undefined;
    for (const row of checkpoints) {
      const { checkpoint } = openCheckpoint(row.note, [key], { origin: logOrigin(a.checkpointKey, account.id) });
      expect(checkpoint.rootHash.equals(await rootAt(checkpoint.size, fromMemory))).toBe(true);
      if (previous) {
        const proof = await resolvePlan(consistencyPlan(previous.size, checkpoint.size), read);
        expect(verifyConsistency(previous.size, checkpoint.size, proof, previous.root, checkpoint.rootHash)).toBe(true);
      }
      previous = { size: checkpoint.size, root: checkpoint.rootHash };
    }
  });
});
