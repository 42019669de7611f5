/**
 * The browser's audit verification (assets/audit-verify.js), run in Node on its WebCrypto: it agrees with
 * the server's RFC 9162 verifier on every leaf of small trees, accepts a proof Cordon's own code signs, and
 * refuses each kind of tampering.
 */
import { readFileSync } from 'node:fs';
import { runInThisContext } from 'node:vm';
import { beforeAll, describe, expect, it } from 'vitest';
import { signCheckpoint } from '../audit/checkpoint.js';
import { hashChildren, hashLeaf, splitPoint, verifyInclusion, type Hash } from '../audit/merkle.js';
import { generateNoteSigner } from '../audit/note.js';

interface VerifyApi {
  hashLeaf(leaf: Uint8Array): Promise<Uint8Array>;
  verifyInclusion(
    leaf: Uint8Array,
    index: number,
    size: number,
    path: Uint8Array[],
    root: Uint8Array,
  ): Promise<boolean>;
  verifyEntryProof(
    proof: Record<string, unknown>,
    keys: Array<{ verifier_key: string }>,
  ): Promise<{ ok: boolean; reason: string; checkpoint: string }>;
}

let api: VerifyApi;
beforeAll(() => {
  runInThisContext(readFileSync(new URL('./assets/audit-verify.js', import.meta.url), 'utf8'));
  api = (globalThis as unknown as { CordonAuditVerify: VerifyApi }).CordonAuditVerify;
});

const leaves = (n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ index: i, log: 'L', x: 'é' }));

/** MTH and PATH of RFC 6962 §2.1, straight from the definitions. */
function mth(hashes: Hash[]): Hash {
  if (hashes.length === 1) return hashes[0]!;
  const k = splitPoint(hashes.length);
  return hashChildren(mth(hashes.slice(0, k)), mth(hashes.slice(k)));
}
function path(m: number, hashes: Hash[]): Hash[] {
  if (hashes.length === 1) return [];
  const k = splitPoint(hashes.length);
  return m < k
    ? [...path(m, hashes.slice(0, k)), mth(hashes.slice(k))]
    : [...path(m - k, hashes.slice(k)), mth(hashes.slice(0, k))];
}

/** The note with one character of its signature's base64 changed (past the key id, inside the signature). */
const flipSignature = (note: string) => {
  const at = note.lastIndexOf(' ') + 20;
  return note.slice(0, at) + (note[at] === 'A' ? 'B' : 'A') + note.slice(at + 1);
};

describe('audit-verify.js', () => {
  it('hashes leaves and walks inclusion paths as the server does', async () => {
    for (let size = 1; size <= 17; size++) {
      const hashes = leaves(size).map((l) => hashLeaf(l));
      const root = mth(hashes);
      for (let m = 0; m < size; m++) {
        const leaf = Buffer.from(leaves(size)[m]!);
        expect(Buffer.from(await api.hashLeaf(leaf)).equals(hashes[m]!)).toBe(true);
        const p = path(m, hashes);
        expect(verifyInclusion(hashes[m]!, m, size, p, root)).toBe(true);
        expect(await api.verifyInclusion(hashes[m]!, m, size, p, root)).toBe(true);
        // A wrong index, a wrong size or a wrong sibling fails, as on the server.
        const other = (m + 1) % size;
        if (other !== m) expect(await api.verifyInclusion(hashes[m]!, other, size, p, root)).toBe(false);
        expect(await api.verifyInclusion(hashes[m]!, m, size + 1, p, root)).toBe(
          verifyInclusion(hashes[m]!, m, size + 1, p, root),
        );
        if (p.length > 0) {
          const bad = p.map((h, i) => (i === 0 ? hashLeaf('x') : h));
          expect(await api.verifyInclusion(hashes[m]!, m, size, bad, root)).toBe(false);
        }
      }
    }
  });

  describe('a whole entry proof', () => {
    const signer = generateNoteSigner('cordon.test/audit');
    const size = 5;
    const index = 3;
    const data = leaves(size);
    const hashes = data.map((l) => hashLeaf(l));
    const note = signCheckpoint({ origin: 'cordon.test/audit/L', size, rootHash: mth(hashes) }, signer);
    const proof = {
      index,
      tree_size: size,
      leaf: Buffer.from(data[index]!).toString('base64'),
      inclusion_path: path(index, hashes).map((h) => h.toString('base64')),
      signed_note: note,
      origin: 'cordon.test/audit/L',
      key_name: signer.name,
      verifier_key: signer.verifierKey,
    };
    const keys = [{ verifier_key: signer.verifierKey }];

    it('verifies, and shows the checkpoint text', async () => {
      const result = await api.verifyEntryProof(proof, keys);
      expect(result).toEqual({
        ok: true,
        reason: 'included in the signed tree of size 5',
        checkpoint: note.slice(0, note.lastIndexOf('\n\n') + 1),
      });
    });

    it.each([
      [
        'a changed leaf',
        { leaf: Buffer.from(data[index]!.replace('é', 'e')).toString('base64') },
        /changed or removed/,
      ],
      ['the leaf of another entry', { leaf: Buffer.from(data[2]!).toString('base64') }, /not the one of entry 3/],
      [
        'a key the server does not publish',
        { verifier_key: generateNoteSigner('cordon.test/audit').verifierKey },
        /publishes/,
      ],
      ['a forged signature', { signed_note: flipSignature(note) }, /does not verify/],
      ['a checkpoint of another size', { tree_size: 4 }, /another tree size/],
      ['a checkpoint of another log', { origin: 'cordon.test/audit/M' }, /another log/],
    ])('fails on %s', async (_name, change, reason) => {
      const forged = { ...proof, ...change };
      const result = await api.verifyEntryProof(forged, [{ verifier_key: proof.verifier_key }]);
      expect(result.ok).toBe(false);
      expect(result.reason).toMatch(reason);
    });

    it('fails when the signature is by a key of another name', async () => {
      const other = generateNoteSigner('someone.else');
      const result = await api.verifyEntryProof(
        { ...proof, signed_note: signCheckpoint({ origin: proof.origin, size, rootHash: mth(hashes) }, other) },
        keys,
      );
      expect(result).toMatchObject({ ok: false, reason: 'the checkpoint carries no signature by the log key' });
    });
  });
});
