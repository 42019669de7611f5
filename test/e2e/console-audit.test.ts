/**
 * The console's audit explorer over HTTP: the list and its filters, one entry with its leaf, and the data
 * the Verify button checks, verified here by an independent implementation (node:crypto): it agrees with
 * `cordon audit proof` on untouched entries, and fails once the entry's row is changed in the database.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { runInThisContext } from 'node:vm';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { checkEntryProof } from '../../src/cli/audit.js';
import { proveAgainstLatest } from '../../src/audit/proofs.js';
import type { ConsoleProof as Proof } from '../../src/console/pages/audit.js';
import { describeBackends } from '../support/backends.js';
import { openConsoleSuite, type ConsoleClient, type ConsoleSuite } from '../support/console.js';

vi.setConfig({ testTimeout: 120_000 });

const sha256 = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();

/** RFC 9162 §2.1.3.2, written again from the RFC: the root the path leads to from `leaf` at `index`. */
function rootFromPath(leaf: Buffer, index: number, size: number, path: Buffer[]): Buffer | undefined {
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      r = sha256(Buffer.of(1), p, r);
      while (fn % 2 === 0 && fn !== 0) [fn, sn] = [fn >> 1, sn >> 1];
    } else r = sha256(Buffer.of(1), r, p);
    [fn, sn] = [fn >> 1, sn >> 1];
  }
  return sn === 0 ? r : undefined;
}

/** Checks a console proof with node:crypto only: key id, Ed25519 note signature, leaf hash, path to the root. */
function independentlyVerified(proof: Proof, publishedKey: string): boolean {
  expect(proof.verifier_key).toBe(publishedKey);
  const [name, idHex, keyB64] = [
    proof.verifier_key.split('+')[0]!,
    proof.verifier_key.split('+')[1]!,
    proof.verifier_key.split('+').slice(2).join('+'),
  ];
  const raw = Buffer.from(keyB64, 'base64').subarray(1);
  const keyId = sha256(Buffer.from(name), Buffer.of(0x0a, 0x01), raw).subarray(0, 4);
  expect(keyId.toString('hex')).toBe(idHex);
  const split = proof.signed_note.lastIndexOf('\n\n');
  const text = proof.signed_note.slice(0, split + 1);
  const line = proof.signed_note.slice(split + 2).split('\n')[0]!;
  expect(line.startsWith(`\u2014 ${name} `)).toBe(true);
  const blob = Buffer.from(line.split(' ')[2]!, 'base64');
  expect(blob.subarray(0, 4).equals(keyId)).toBe(true);
  const publicKey = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') },
    format: 'jwk',
  });
  expect(verify(null, Buffer.from(text), publicKey, blob.subarray(4))).toBe(true);
  const [origin, size, root] = text.slice(0, -1).split('\n');
  expect(origin).toBe(proof.origin);
  expect(Number(size)).toBe(proof.tree_size);
  const leafHash = sha256(Buffer.of(0), Buffer.from(proof.leaf, 'base64'));
  const path = proof.inclusion_path.map((h) => Buffer.from(h, 'base64'));
  return rootFromPath(leafHash, proof.index, proof.tree_size, path)?.equals(Buffer.from(root!, 'base64')) ?? false;
}

/** The Verify button's own checks (assets/audit-verify.js, on Node's WebCrypto), on what the server answers. */
async function browserSays(proof: Proof, url: string): Promise<{ ok: boolean; reason: string }> {
  const global = globalThis as unknown as {
    CordonAuditVerify?: { verifyEntryProof: (proof: Proof, keys: unknown[]) => Promise<unknown> };
  };
  if (!global.CordonAuditVerify)
    runInThisContext(readFileSync(new URL('../../src/console/assets/audit-verify.js', import.meta.url), 'utf8'));
  const { keys } = (await (await fetch(`${url}/v1/audit/keys?log=${proof.log}`)).json()) as { keys: unknown[] };
  return (await global.CordonAuditVerify!.verifyEntryProof(proof, keys)) as { ok: boolean; reason: string };
}

describeBackends('console: audit explorer', (backend) => {
  let suite: ConsoleSuite;
  let alice: ConsoleClient;
  let publishedKey: string;

  const proofOf = async (index: number): Promise<Proof> => {
    const response = await alice.request(`/console/audit/${index}/proof.json`);
    expect(response.status).toBe(200);
    return (await response.json()) as Proof;
  };
  const cliSays = async (index: number) => {
    const proof = await proveAgainstLatest(suite.core.database.db, suite.core.checkpointKey, suite.accountId, index);
    return checkEntryProof(proof!, publishedKey).ok;
  };

  beforeAll(async () => {
    suite = await openConsoleSuite(backend, [
      ['alice', 'ADMIN'],
      ['mia', 'MEMBER'],
    ]);
    alice = await suite.signIn('alice');
    await suite.core.audit.settle();
    await suite.core.audit.sequencer.drain();
    await suite.core.checkpointer.pass();
    const keys = (await (await fetch(`${suite.url}/v1/audit/keys?log=${suite.accountId}`)).json()) as {
      keys: Array<{ verifier_key: string }>;
    };
    publishedKey = keys.keys[0]!.verifier_key;
  });
  afterAll(() => suite.close());

  it('lists entries with filters and pages, and shows one entry with its leaf and Verify button', async () => {
    const list = await alice.page('/console/audit');
    expect(list.status).toBe(200);
    expect(list.body).toContain('<th scope="col">Action</th>');
    expect(list.body).toMatch(/<a href="\/console\/audit\/0">0<\/a>/);
    expect(list.body).not.toContain('audit-verify.js');

    const filtered = await alice.page('/console/audit?action=no.such.action');
    expect(filtered.body).toContain('No entries match.');
    const [first] = await suite.core.database.db
      .selectFrom('audit_entries')
      .select(['action', 'idx'])
      .where('account_id', '=', suite.accountId)
      .orderBy('idx')
      .limit(1)
      .execute();
    const byAction = await alice.page(`/console/audit?action=${encodeURIComponent(first!.action)}&from=0`);
    expect(byAction.body).toContain(`<a href="/console/audit/${first!.idx}">`);
    const later = await alice.page('/console/audit?from=2');
    expect(later.body).toContain('<a href="/console/audit/2">2</a>');
    expect(later.body).not.toContain('<a href="/console/audit/1">1</a>');
    expect(later.body).toContain('<a href="/console/audit?from=0">Earlier</a>');
    const bad = await alice.page('/console/audit?since=yesterday');
    expect(bad.status).toBe(400);

    const entry = await alice.page('/console/audit/0');
    expect(entry.status).toBe(200);
    expect(entry.body).toContain('data-verify="/console/audit/0/proof.json"');
    expect(entry.body).toContain('<output class="verify-result" data-state="idle"');
    expect(entry.body).toMatch(/<script src="\/console\/assets\/audit-verify\.js\?v=[\w-]+" defer><\/script>/);
    expect(entry.body).toContain('&quot;index&quot;:0');
    expect((await alice.page('/console/audit/999999')).status).toBe(404);
    expect((await alice.page('/console/audit/x1')).status).toBe(404);
  });

  it('is for OWNER and ADMIN only', async () => {
    const mia = await suite.signIn('mia');
    expect((await mia.page('/console/audit')).status).toBe(403);
    expect((await mia.request('/console/audit/0/proof.json')).status).toBe(403);
    const nobody = await suite.client().request('/console/audit/0/proof.json');
    expect(nobody.status).toBe(303);
  });

  it('proof data verifies independently and agrees with `cordon audit proof`, until a row is tampered', async () => {
    const size = (await proofOf(0)).tree_size;
    expect(size).toBeGreaterThan(1);
    for (let index = 0; index < size; index++) {
      const proof = await proofOf(index);
      expect(proof.index).toBe(index);
      expect(proof.key_name).toBe(`${suite.core.checkpointKey.name}/${suite.accountId}`);
      expect(proof.key_name).toBe(proof.origin);
      expect(independentlyVerified(proof, publishedKey)).toBe(true);
      expect(await cliSays(index)).toBe(true);
      expect(await browserSays(proof, suite.url)).toMatchObject({ ok: true });
    }
    const index = size - 1;
    await sql`UPDATE audit_entries SET details = details || '{"forged": true}'
      WHERE account_id = ${suite.accountId} AND idx = ${index}`.execute(suite.core.database.db);
    const tampered = await proofOf(index);
    expect(Buffer.from(tampered.leaf, 'base64').toString()).toContain('"forged":true');
    expect(independentlyVerified(tampered, publishedKey)).toBe(false);
    expect(await cliSays(index)).toBe(false);
    expect(await browserSays(tampered, suite.url)).toEqual({
      ok: false,
      reason: 'the entry as stored now is not the one the signed tree holds: it was changed or removed',
      checkpoint: expect.stringMatching(/^cordon/),
    });
    // The other entries still verify.
    expect(independentlyVerified(await proofOf(0), publishedKey)).toBe(true);
  });
});
