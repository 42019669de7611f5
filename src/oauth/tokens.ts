/**
 * Access tokens: JWTs per RFC 9068 (`typ: at+jwt`), ES256 with the key ring's current key.
 */
import { randomBytes, sign } from 'node:crypto';
import type { OAuthApp } from '../storage/schema.js';
import type { KeyRing } from './keys.js';

export interface IssuedToken {
  accessToken: string;
  jti: string;
  expiresIn: number;
  expiresAt: Date;
  scope: string[];
  /** `DPoP` when bound to a key (RFC 9449 §5), `Bearer` otherwise. */
  tokenType: 'Bearer' | 'DPoP';
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export async function issueAccessToken(
  keys: KeyRing,
  opts: { issuer: string; app: OAuthApp; scope: string[]; ttl: number; jkt?: string | undefined },
): Promise<IssuedToken> {
  const jti = randomBytes(16).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const accessToken = await signJwt(keys, 'at+jwt', {
    iss: opts.issuer,
    sub: opts.app.client_id, // RFC 9068 §2.2: the client itself when no resource owner is involved
    aud: opts.issuer,
    client_id: opts.app.client_id,
    scope: opts.scope.join(' '),
    account_id: opts.app.account_id,
    jti,
    iat: now,
    exp: now + opts.ttl,
    ...(opts.jkt ? { cnf: { jkt: opts.jkt } } : {}),
  });
  return {
    accessToken,
    jti,
    expiresIn: opts.ttl,
    expiresAt: new Date((now + opts.ttl) * 1000),
    scope: opts.scope,
    tokenType: opts.jkt ? 'DPoP' : 'Bearer',
  };
}

/**
 * A JWT over `claims`, ES256 with the key ring's current key; its JOSE header is `{alg, typ, kid}`, or what
 * `header` makes of the key id and the payload segment.
 */
export async function signJwt(
  keys: KeyRing,
  typ: string,
  claims: Record<string, unknown>,
  header: (kid: string, payload: string) => Record<string, unknown> = (kid) => ({ alg: 'ES256', typ, kid }),
): Promise<string> {
  const { kid, key } = await keys.signingKey();
  const payload = base64url(claims);
  const protectedHeader = base64url(header(kid, payload));
  // RFC 7518 §3.4: ES256 signatures are R || S (IEEE P1363), not DER. Signed on libuv's thread pool (as
  // WebCrypto would), so the event loop serves other requests meanwhile.
  const signature = await new Promise<Buffer>((resolve, reject) =>
    sign('sha256', Buffer.from(`${protectedHeader}.${payload}`), { key, dsaEncoding: 'ieee-p1363' }, (error, signed) =>
      error ? reject(error) : resolve(signed),
    ),
  );
  return `${protectedHeader}.${payload}.${signature.toString('base64url')}`;
}
