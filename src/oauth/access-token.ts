/**
 * Verifying Cordon's own access tokens: signature with a key of the key ring (ES256 only: `alg: none`
 * and HMAC tricks are refused by construction), `typ: at+jwt`, issuer, audience, expiry and not-before
 * with a small leeway, and the claims the guard relies on.
 */
import { errors, jwtVerify, type JWTPayload } from 'jose';
import type { KeyRing } from './keys.js';

export interface AccessTokenClaims extends JWTPayload {
  jti: string;
  client_id: string;
  account_id: string;
  scope: string;
  exp: number;
  /** RFC 9449 §6: the thumbprint of the key the token is bound to. */
  cnf?: { jkt?: string };
}

export class InvalidToken extends Error {}

export async function verifyAccessToken(keys: KeyRing, token: string, issuer: string): Promise<AccessTokenClaims> {
  try {
    const { payload } = await jwtVerify(
      token,
      async (header) => {
        const key = header.kid ? await keys.verificationKey(header.kid) : undefined;
        if (!key) throw new InvalidToken('unknown signing key');
        return key;
      },
      { algorithms: ['ES256'], typ: 'at+jwt', issuer, audience: issuer, clockTolerance: 5, requiredClaims: ['jti', 'exp', 'iat'] },
    );
    for (const claim of ['client_id', 'account_id', 'scope', 'jti'] as const) {
      if (typeof payload[claim] !== 'string') throw new InvalidToken(`missing claim ${claim}`);
    }
    return payload as AccessTokenClaims;
  } catch (error) {
    if (error instanceof InvalidToken) throw error;
    if (error instanceof errors.JOSEError) throw new InvalidToken(error.code, { cause: error });
    throw error;
  }
}

/**
 * Access tokens this process has verified, remembered (bounded, oldest out first) until they expire, so
 * that a token's ES256 signature is checked once per process rather than on every request. Only what a
 * token's bytes alone decide is remembered: revocation and the app's state are still read on every
 * request (token-standing.ts). Keyed by the issuer and the exact token text.
 */
export class VerifiedTokens {
  private readonly seen = new Map<string, AccessTokenClaims>();

  constructor(
    private readonly keys: KeyRing,
    private readonly max = 10_000,
  ) {}

  async verify(token: string, issuer: string): Promise<AccessTokenClaims> {
    const key = `${issuer}\n${token}`;
    const hit = this.seen.get(key);
    if (hit && hit.exp * 1000 > Date.now()) return hit;
    if (hit) this.seen.delete(key);
    const claims = await verifyAccessToken(this.keys, token, issuer);
    if (this.seen.size >= this.max) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(key, claims);
    return claims;
  }
}
