import { generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { InvalidToken, VerifiedTokens } from './access-token.js';
import type { KeyRing } from './keys.js';

const ISSUER = 'https://cordon.test';

describe('VerifiedTokens', () => {
  let privateKey: CryptoKey;
  let keys: KeyRing;
  let lookups = 0;

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    privateKey = pair.privateKey;
    keys = {
      verificationKey: async (kid: string) => (lookups++, kid === 'k1' ? pair.publicKey : undefined),
    } as unknown as KeyRing;
  });
  afterEach(() => vi.useRealTimers());

  const sign = (jti: string, expiresIn = '15m') =>
    new SignJWT({ client_id: 'c', account_id: 'a', scope: 'users:list', jti })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
      .setIssuer(ISSUER)
      .setAudience(ISSUER)
      .setIssuedAt()
      .setExpirationTime(expiresIn)
      .sign(privateKey);

  it('checks a signature once, and never lets other bytes ride on it', async () => {
    const tokens = new VerifiedTokens(keys, 900);
    const token = await sign('t1');
    lookups = 0;
    expect(await tokens.verify(token, ISSUER)).toEqual({ claims: expect.objectContaining({ jti: 't1' }), kid: 'k1' });
    expect((await tokens.verify(token, ISSUER)).claims.jti).toBe('t1');
    expect(lookups).toBe(1);
    // The same claims with another signature, or another issuer: verified afresh, and refused.
    const forged = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
    await expect(tokens.verify(forged, ISSUER)).rejects.toBeInstanceOf(InvalidToken);
    await expect(tokens.verify(token, 'https://other.test')).rejects.toBeInstanceOf(InvalidToken);
  });

  it('forgets a token when it expires, and stays bounded', async () => {
    const tokens = new VerifiedTokens(keys, 900, 2);
    const short = await sign('short', '2s');
    await tokens.verify(short, ISSUER);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 10_000 });
    await expect(tokens.verify(short, ISSUER)).rejects.toBeInstanceOf(InvalidToken);
    vi.useRealTimers();

    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((jti) => sign(jti)));
    for (const token of [a!, b!, c!]) await tokens.verify(token, ISSUER);
    lookups = 0;
    await tokens.verify(c!, ISSUER);
    expect(lookups).toBe(0);
    await tokens.verify(a!, ISSUER); // pushed out by c: checked again
    expect(lookups).toBe(1);
  });

  it(
    'refuses a token whose lifetime exceeds the configured ' + 'one, or that lacks iat or dates it in the future',
    async () => {
      const now = Math.floor(Date.now() / 1000);
      const claims = { client_id: 'c', account_id: 'a', scope: 'users:list', jti: 'j' };
      const signed = (iat: number | undefined, exp: number) => {
        const jwt = new SignJWT(claims)
          .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1' })
          .setIssuer(ISSUER)
          .setAudience(ISSUER)
          .setExpirationTime(exp);
        return (iat === undefined ? jwt : jwt.setIssuedAt(iat)).sign(privateKey);
      };
      const tokens = new VerifiedTokens(keys, 900);
      expect((await tokens.verify(await signed(now, now + 900), ISSUER)).claims.jti).toBe('j');
      for (const token of [
        await signed(now, now + 901),
        await signed(now, now + 10 * 365 * 86_400),
        await signed(undefined, now + 60),
        await signed(now + 600, now + 1500),
      ]) {
        await expect(tokens.verify(token, ISSUER)).rejects.toBeInstanceOf(InvalidToken);
      }
      // A lifetime lowered after a token was issued: the longer-lived token is refused from then on.
      await expect(new VerifiedTokens(keys, 300).verify(await signed(now, now + 900), ISSUER)).rejects.toBeInstanceOf(
        InvalidToken,
      );
    },
  );
});
