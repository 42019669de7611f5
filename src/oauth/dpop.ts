/**
 * DPoP proofs (RFC 9449): a JWT (`typ: dpop+jwt`) signed with the client's key, carried in its header,
 * bound to the HTTP method and URL, fresh (`iat` within a minute), used once (`jti`, across nodes),
 * and at a resource bound to the access token (`ath`). The key's thumbprint (`jkt`) binds the token.
 */
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import type { Executor } from '../store/executor.js';
import { recordDpopJti } from '../store/tokens.js';

export const DPOP_ALGS = ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'];
const WINDOW_S = 60;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

export class InvalidProof extends Error {}

/** `base64url(sha256(token))`, the `ath` of a proof sent with that access token. */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** The URL a proof's `htu` must name: no query, no fragment (RFC 9449 §4.3). */
export function htuOf(base: string, path: string): string {
  return `${base}${path.split('?')[0]!.split('#')[0]!}`;
}

export async function verifyDpopProof(
  db: Executor,
  proof: string,
  expect: { htm: string; htu: string; ath?: string },
): Promise<{ jkt: string }> {
  let jwk: JWK;
  let payload;
  let jkt: string;
  try {
    const header = decodeProtectedHeader(proof);
    if (header.typ !== 'dpop+jwt' || !DPOP_ALGS.includes(header.alg ?? '')) throw new InvalidProof('bad header');
    jwk = header.jwk as JWK;
    if (!jwk || typeof jwk !== 'object' || PRIVATE_MEMBERS.some((m) => m in jwk))
      throw new InvalidProof('the header must carry a public jwk');
    for (const member of ['kty', 'crv', 'x', 'y', 'n', 'e'] as const) {
      if (jwk[member] !== undefined && (typeof jwk[member] !== 'string' || jwk[member].length > 1024))
        throw new InvalidProof('malformed jwk');
    }
    ({ payload } = await jwtVerify(proof, await importJWK(jwk, header.alg), {
      typ: 'dpop+jwt',
      algorithms: DPOP_ALGS,
      requiredClaims: ['jti', 'iat', 'htm', 'htu'],
    }));
    jkt = await calculateJwkThumbprint(jwk);
  } catch (error) {
    if (error instanceof InvalidProof) throw error;
    throw new InvalidProof('the proof does not verify', { cause: error });
  }
  if (payload.htm !== expect.htm || typeof payload.htu !== 'string' || htuOf('', payload.htu) !== expect.htu)
    throw new InvalidProof('the proof is for another request');
  if (Math.abs(Date.now() / 1000 - payload.iat!) > WINDOW_S) throw new InvalidProof('the proof is not fresh');
  if (expect.ath !== undefined && payload.ath !== expect.ath)
    throw new InvalidProof('the proof is for another access token');
  if (typeof payload.jti !== 'string' || payload.jti.length > 200) throw new InvalidProof('bad jti');
  // Kept well past the acceptance window, so clock drift between nodes and the database frees no live jti.
  const fresh = await recordDpopJti(db, {
    jkt,
    jti: payload.jti,
    expires_at: new Date((payload.iat! + WINDOW_S + 120) * 1000),
  });
  if (!fresh) throw new InvalidProof('the proof was used before');
  return { jkt };
}
