/**
 * Access tokens: JWTs per RFC 9068 (`typ: at+jwt`), ES256 with the key ring's current key.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { OAuthApp } from '../storage/schema.js';
import type { KeyRing } from './keys.js';

export interface IssuedToken {
  accessToken: string;
  jti: string;
  expiresIn: number;
  expiresAt: Date;
  scope: string[];
}

export async function issueAccessToken(keys: KeyRing, opts: { issuer: string; app: OAuthApp; scope: string[]; ttl: number }): Promise<IssuedToken> {
  const { kid, key } = await keys.signingKey();
  const jti = randomBytes(16).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const accessToken = await new SignJWT({
    client_id: opts.app.client_id,
    scope: opts.scope.join(' '),
    account_id: opts.app.account_id,
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
    .setIssuer(opts.issuer)
    .setSubject(opts.app.client_id) // RFC 9068 §2.2: the client itself when no resource owner is involved
    .setAudience(opts.issuer)
    .setJti(jti)
    .setIssuedAt(now)
    .setExpirationTime(now + opts.ttl)
    .sign(key);
  return { accessToken, jti, expiresIn: opts.ttl, expiresAt: new Date((now + opts.ttl) * 1000), scope: opts.scope };
}
