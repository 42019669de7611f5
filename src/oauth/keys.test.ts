import { calculateJwkThumbprint, compactVerify, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { expect, it } from 'vitest';
import { describeBackends, useFreshCore } from '../../test/support/backends.js';
import { testCtx } from '../../test/support/fixtures.js';
import { listAuditEntries } from '../store/audit.js';
import { Sealer } from '../sealing.js';
import { SYSTEM_LOG } from '../audit/entry.js';
import { KeyRing } from './keys.js';

describeBackends('signing keys', (backend) => {
  const t = useFreshCore(backend);

  it('makes one first key even when several callers race, and stores it encrypted', async () => {
    const kids = await Promise.all([1, 2, 3].map(() => t.core.keys.signingKey().then((k) => k.kid)));
    const other = new KeyRing(t.core.database.db, { sealer: t.core.sealer, tokenTtl: 900 });
    kids.push((await other.signingKey()).kid);
    expect(new Set(kids).size).toBe(1);
    const rows = await t.core.database.db.selectFrom('signing_keys').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.private_key_enc).toMatch(/^v1\./);
    expect(rows[0]!.private_key_enc).not.toContain('"d"');
    const jwks = await t.core.keys.jwks();
    expect(jwks.keys).toEqual([
      expect.objectContaining({ kty: 'EC', crv: 'P-256', kid: kids[0], alg: 'ES256', use: 'sig' }),
    ]);
    expect(JSON.stringify(jwks)).not.toContain('"d"');
  });

  it('rotates: new tokens use the new key, the old one still verifies, and the rotation is audited', async () => {
    const before = await t.core.keys.signingKey();
    const oldToken = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: before.kid }).sign(before.key);
    const { kid, retired } = await t.core.keys.rotate(t.core.audit, testCtx);
    expect(retired).toEqual([before.kid]);
    expect((await t.core.keys.signingKey()).kid).toBe(kid);
    expect((await t.core.keys.jwks()).keys.map((k) => k.kid).sort()).toEqual([before.kid, kid].sort());
    await compactVerify(oldToken, (await t.core.keys.verificationKey(before.kid))!);
    expect(await t.core.keys.verificationKey('nope')).toBeUndefined();

    await t.core.audit.sequencer.drain();
    const [entry] = await listAuditEntries(t.core.database.db, { accountId: SYSTEM_LOG });
    expect(entry).toMatchObject({
      idx: 0,
      action: 'key.rotate',
      target_type: 'signing_key',
      target_id: kid,
      details: { alg: 'ES256', retired: [before.kid] },
    });
  });

  it(
    'revokes: a leaked active key is replaced in the same ' +
      'transaction, leaves the JWKS, and the revocation is audited',
    async () => {
      const retired = (await t.core.keys.signingKey()).kid;
      const { kid: second } = await t.core.keys.rotate(t.core.audit, testCtx);
      // A retired key: revoked, nothing new is made.
      expect(await t.core.keys.revoke(t.core.audit, testCtx, retired)).toEqual({ kid: retired, replaced_by: null });
      expect(await t.core.keys.verificationKey(retired)).toBeUndefined();
      // The active key: a new one signs from now on.
      const { replaced_by } = await t.core.keys.revoke(t.core.audit, testCtx, second);
      expect(replaced_by).toEqual(expect.any(String));
      expect((await t.core.keys.signingKey()).kid).toBe(replaced_by);
      expect((await t.core.keys.jwks()).keys.map((k) => k.kid)).toEqual([replaced_by]);
      // Another node's ring never picks a revoked key up, not even as a signer.
      const other = new KeyRing(t.core.database.db, { sealer: t.core.sealer, tokenTtl: 900 });
      expect((await other.signingKey()).kid).toBe(replaced_by);
      expect(await other.verificationKey(second)).toBeUndefined();
      expect((await t.core.keys.list()).map((k) => [k.kid, k.status])).toEqual([
        [replaced_by, 'active'],
        [second, 'revoked'],
        [retired, 'revoked'],
      ]);

      await expect(t.core.keys.revoke(t.core.audit, testCtx, second)).rejects.toMatchObject({
        code: 'FAILED_PRECONDITION',
      });
      await expect(t.core.keys.revoke(t.core.audit, testCtx, 'no-such-key')).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
      await t.core.audit.sequencer.drain();
      const entries = await listAuditEntries(t.core.database.db, { accountId: SYSTEM_LOG });
      expect(entries.map((e) => [e.action, e.target_id, e.outcome, e.details])).toEqual([
        ['key.rotate', second, 'changed', { alg: 'ES256', retired: [retired] }],
        ['key.revoke', retired, 'changed', { was: 'retired', replaced_by: null }],
        ['key.revoke', second, 'changed', { was: 'active', replaced_by }],
      ]);
    },
  );

  it('refuses to sign with a key-encryption key that differs from the one the keys were stored with', async () => {
    await t.core.keys.signingKey();
    const wrong = new KeyRing(t.core.database.db, { sealer: new Sealer(Buffer.alloc(32, 1)), tokenTtl: 900 });
    await expect(wrong.signingKey()).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      description: expect.stringContaining('CORDON_KEY_ENCRYPTION_KEY'),
    });
  });

  it('trusts no key row written without the key-encryption key', async () => {
    await t.core.keys.signingKey();
    const { publicKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(jwk);
    await t.core.database.db
      .insertInto('signing_keys')
      .values({ kid, alg: 'ES256', public_jwk: JSON.stringify({ ...jwk, kid }), private_key_enc: 'v1.AAAA.AAAA.AAAA' })
      .execute();
    const fresh = new KeyRing(t.core.database.db, { sealer: t.core.sealer, tokenTtl: 900 });
    await expect(fresh.verificationKey(kid)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});
