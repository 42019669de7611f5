import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeSecret } from '../../secret-format.js';
import type { Executor } from '../../store/executor.js';
import { classifyToken, findLeakedSecrets } from './find-leaked.js';

/** An executor that fails the test on any use: what is read offline never reaches it. */
const noDatabase = new Proxy({} as Executor, {
  get(_target, name) {
    throw new Error(`the database was used (${String(name)})`);
  },
});

const changeOne = (secret: string, at: number) =>
  secret.slice(0, at) + (secret[at] === 'a' ? 'b' : 'a') + secret.slice(at + 1);

describe('findLeakedSecrets', () => {
  it('labels look-alikes, strings of no kind and a bad checksum without a database lookup', async () => {
    const tokens = [
      changeOne(makeSecret('cs'), 30),
      changeOne(makeSecret('sess'), 40),
      'cordon_st_tooShort',
      'cordon_xx_0000000000000000000000000000000000000000000000000',
      `ghp_${randomBytes(20).toString('hex')}`,
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
    ];
    expect(await findLeakedSecrets(noDatabase, tokens)).toEqual(new Map());
  });

  it('reads every one-character change of a Cordon secret as no kind (property)', () => {
    const secret = makeSecret('st');
    fc.assert(
      fc.property(fc.integer({ min: 10, max: secret.length - 1 }), (at) => {
        expect(classifyToken(changeOne(secret, at))).toBeUndefined();
      }),
    );
  });

  it('classifies the kinds it looks up', () => {
    expect(['cs', 'st', 'sh', 'sess'].map((kind) => classifyToken(makeSecret(kind as 'cs')))).toEqual([
      'cs',
      'st',
      'sh',
      'sess',
    ]);
    expect(classifyToken(`cdns_${randomBytes(32).toString('base64url')}`)).toBe('sess');
    expect(classifyToken(`cdnt_${randomBytes(32).toString('base64url')}`)).toBe('st');
    const header = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: 'k1' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify({ sub: 'x'.repeat(20) })).toString('base64url');
    expect(classifyToken(`${header}.${payload}.${randomBytes(64).toString('base64url')}`)).toBe('et');
  });
});
