/**
 * Verifying Cordon's own access tokens: signature with a key of the key ring (ES256 only: `alg: none`
 * and HMAC tricks are refused by construction), `typ: at+jwt`, issuer, audience, expiry and not-before
 * with a small leeway, a lifetime (`exp - iat`) within the configured one, and the claims the guard
 * relies on.
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

/** A verified token: its claims, and the key that signed it (whose status the guard reads per request). */
export interface VerifiedToken {
  claims: AccessTokenClaims;
  kid: string;
}

export class InvalidToken extends Error {}

const CLOCK_TOLERANCE = 5;

/**
 * `maxLifetime` is the configured token lifetime (s). Cordon sets `exp = iat + lifetime` from one clock
 * reading, so a longer span is a forgery (or a token minted under a longer lifetime than this node now
 * allows: refused too, the safe side after the lifetime is lowered). `iat` may not lie in the future
 * beyond the clock tolerance, so a token never lives past `now + tolerance + lifetime`.
 */
export async function verifyAccessToken(
  keys: KeyRing,
  token: string,
  issuer: string,
  maxLifetime: number,
): Promise<VerifiedToken> {
  try {
    let kid = '';
    const { payload } = await jwtVerify(
      token,
      async (header) => {
        const key = header.kid ? await keys.verificationKey(header.kid) : undefined;
        if (!key) throw new InvalidToken('unknown signing key');
        kid = header.kid!;
        return key;
      },
      {
        algorithms: ['ES256'],
        typ: 'at+jwt',
        issuer,
        audience: issuer,
        clockTolerance: CLOCK_TOLERANCE,
        maxTokenAge: maxLifetime,
        requiredClaims: ['jti', 'exp', 'iat'],
      },
    );
    for (const claim of ['client_id', 'account_id', 'scope', 'jti'] as const) {
      if (typeof payload[claim] !== 'string') throw new InvalidToken(`missing claim ${claim}`);
    }
    if (payload.exp! - payload.iat! > maxLifetime) throw new InvalidToken(`lifetime over ${maxLifetime}s`);
    return { claims: payload as AccessTokenClaims, kid };
  } catch (error) {
    if (error instanceof InvalidToken) throw error;
    if (error instanceof errors.JOSEError) throw new InvalidToken(error.code, { cause: error });
    throw error;
  }
}

/**
 * Access tokens this process has verified, remembered (bounded, oldest out first) until they expire, so
 * that a token's ES256 signature is checked once per process rather than on every request. Only what a
 * token's bytes alone decide is remembered: revocation, the app's state and the signing key's status
 * (retired past its window, or revoked) are still read on every request (token-standing.ts), so a
 * cached verification never outlives its key. Keyed by the issuer and the exact token text.
 */
export class VerifiedTokens {
  private readonly seen = new Map<string, VerifiedToken>();

  constructor(
    private readonly keys: KeyRing,
    /** The configured token lifetime (s): see verifyAccessToken. */
    private readonly maxLifetime: number,
    private readonly max = 10_000,
  ) {}

  async verify(token: string, issuer: string): Promise<VerifiedToken> {
    const key = `${issuer}\n${token}`;
    const hit = this.seen.get(key);
    if (hit && hit.claims.exp * 1000 > Date.now()) return hit;
    if (hit) this.seen.delete(key);
    const verified = await verifyAccessToken(this.keys, token, issuer, this.maxLifetime);
    if (this.seen.size >= this.max) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(key, verified);
    return verified;
  }
}
