import { createHash, createPublicKey, verify } from 'node:crypto';
import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { describeBackends, useFreshCore } from '../../test/support/backends.js';
import { testCtx } from '../../test/support/fixtures.js';
import { createAccount } from '../directory/accounts.js';
import { findCheckpoint } from '../store/checkpoints.js';
import { readTreeNodes } from '../store/tree.js';
import { openCheckpoint, signCheckpoint } from './checkpoint.js';
import { logOrigin } from './checkpointer.js';
import { consistencyPlan, resolvePlan, rootAt, verifyConsistency, type NodeReader } from './merkle.js';
import { parseVerifierKey } from './note.js';

describeBackends('audit checkpoints', (backend) => {
  const t = useFreshCore(backend);

  const grow = async (logId: string, n: number) => {
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        t.core.audit.record({
          accountId: logId,
          ctx: testCtx,
          action: 'user.read',
          target: { type: 'user', id: `U${i}` },
          outcome: 'read',
        }),
      ),
    );
    await t.core.audit.sequencer.drain();
  };

  it('signs C2SP checkpoints that verify with the published key, each consistent with the one before', async () => {
    await t.core.checkpointer.stop(); // the test runs the passes
    const { account } = await createAccount(t.core.directory, testCtx, {
      name: 'A',
      owner: { email: 'o@a.example', display_name: 'O' },
    });
    await grow(account.id, 10);
    expect(await t.core.checkpointer.pass()).toBeGreaterThanOrEqual(1);
    const first = (await findCheckpoint(t.core.database.db, account.id))!;
    const read: NodeReader = (ids) => readTreeNodes(t.core.database.db, account.id, ids);
    const key = parseVerifierKey(t.core.checkpointKey.forLog(account.id).verifierKey);
    const opened = openCheckpoint(first.note, [key], { origin: logOrigin(t.core.checkpointKey, account.id) });
    expect(opened.checkpoint.size).toBe(first.size);
    expect(opened.checkpoint.rootHash.equals(await rootAt(first.size, read))).toBe(true);
    expect(first.note.split('\n')[0]).toBe(`${t.core.checkpointKey.name}/${account.id}`);

    expect(await t.core.checkpointer.pass()).toBe(0); // nothing grew
    await grow(account.id, 7);
    await t.core.checkpointer.pass();
    const second = (await findCheckpoint(t.core.database.db, account.id))!;
    expect(second.size).toBe(first.size + 7);
    const proof = await resolvePlan(consistencyPlan(first.size, second.size), read);
    expect(verifyConsistency(first.size, second.size, proof, first.root, second.root)).toBe(true);
  });

  it('refuses to sign when the stored tree no longer extends the last signed one', async () => {
    await t.core.checkpointer.stop();
    const { account } = await createAccount(t.core.directory, testCtx, {
      name: 'A',
      owner: { email: 'o@a.example', display_name: 'O' },
    });
    await grow(account.id, 8);
    await t.core.checkpointer.pass();
    const signed = (await findCheckpoint(t.core.database.db, account.id))!;
    // Rewrite history: leaf 2 of the signed part changes, with every stored node above it.
    await sql`UPDATE audit_tree_nodes SET hash = sha256(hash) WHERE account_id = ${account.id}
        AND idx = 2 / (1 << level)`.execute(t.core.database.db);
    await grow(account.id, 3);
    expect(await t.core.checkpointer.pass()).toBe(0);
    expect((await findCheckpoint(t.core.database.db, account.id))!.size).toBe(signed.size);
  });

  it('re-signs, at the same size, a checkpoint signed under the key name every log shared before', async () => {
    await t.core.checkpointer.stop();
    const { account } = await createAccount(t.core.directory, testCtx, {
      name: 'A',
      owner: { email: 'o@a.example', display_name: 'O' },
    });
    await grow(account.id, 5);
    await t.core.checkpointer.pass();
    const signed = (await findCheckpoint(t.core.database.db, account.id))!;
    // What an earlier version signed: the same origin and body, under the key's base name.
    const key = t.core.checkpointKey;
    const old = signCheckpoint({ origin: logOrigin(key, account.id), size: signed.size, rootHash: signed.root }, key);
    await sql`UPDATE audit_checkpoints SET note = ${old} WHERE account_id = ${account.id}`.execute(t.core.database.db);
    expect(old).toContain(`\n\u2014 ${key.name} `);

    expect(await t.core.checkpointer.pass()).toBe(1);
    const again = (await findCheckpoint(t.core.database.db, account.id))!;
    expect([again.size, again.root.equals(signed.root), again.note]).toEqual([signed.size, true, signed.note]);
    const logKey = parseVerifierKey(key.forLog(account.id).verifierKey);
    expect(openCheckpoint(again.note, [logKey], { origin: logKey.name }).checkpoint.size).toBe(signed.size);
    // The log's key does not verify what the base name signed, nor the base name the log's: each log its own.
    expect(() => openCheckpoint(old, [logKey])).toThrow(/unverified/);
    expect(() => openCheckpoint(again.note, [parseVerifierKey(key.verifierKey)])).toThrow(/unverified/);
    expect(await t.core.checkpointer.pass()).toBe(0);
  });

  it('signs notes that the formats docs/audit-log.md gives verify alone, with no Cordon code', async () => {
    await t.core.checkpointer.stop();
    const { account } = await createAccount(t.core.directory, testCtx, {
      name: 'A',
      owner: { email: 'o@a.example', display_name: 'O' },
    });
    await grow(account.id, 3);
    await t.core.checkpointer.pass();
    const { note } = (await findCheckpoint(t.core.database.db, account.id))!;
    // The verifier key: <name>+<8 hex key ID>+<base64(0x01 || public key)>.
    // (The name holds no '+'; the base64 key may.)
    const verifierKey = t.core.checkpointKey.forLog(account.id).verifierKey;
    const [name, keyIdHex] = verifierKey.split('+', 2) as [string, string];
    const keyB64 = verifierKey.slice(name.length + keyIdHex.length + 2);
    const typed = Buffer.from(keyB64, 'base64');
    expect(typed[0]).toBe(0x01);
    const raw = typed.subarray(1);
    const keyId = createHash('sha256')
      .update(Buffer.concat([Buffer.from(`${name}\n`), Buffer.from([0x01]), raw]))
      .digest()
      .subarray(0, 4);
    expect(keyId.toString('hex')).toBe(keyIdHex);
    // The note: body, blank line, "— <name> <base64(key ID || signature)>"; the origin is the key name.
    const [body, signatures] = note.split('\n\n') as [string, string];
    expect(body.split('\n')[0]).toBe(name);
    const [dash, signer, sigB64] = signatures.trim().split(' ') as [string, string, string];
    expect([dash, signer]).toEqual(['\u2014', name]);
    const sig = Buffer.from(sigB64, 'base64');
    expect(sig.subarray(0, 4).equals(keyId)).toBe(true);
    const publicKey = createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]),
      format: 'der',
      type: 'spki',
    });
    expect(verify(null, Buffer.from(`${body}\n`), publicKey, sig.subarray(4))).toBe(true);
  });
});
