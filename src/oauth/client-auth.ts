/**
 * Client authentication at the token endpoint (RFC 6749 §2.3): `client_secret_basic` (the 1Password
 * contract), `client_secret_post`, and `private_key_jwt` (RFC 7523: an assertion signed with a key of the
 * app's JWKS, `aud` = the issuer, each `jti` usable once). A client must use exactly one method, the one
 * its app names.
 */
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { AppError } from '../errors.js';
import type { OAuthApp } from '../storage/schema.js';
import type { Executor } from '../store/executor.js';
import { recordAssertionJti } from '../store/tokens.js';
import type { AppLookup } from './app-lookup.js';
import { verifyClientSecret } from './client-secret.js';

export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Longest an assertion may live: its jti is kept that long. */
const MAX_ASSERTION_LIFETIME_S = 600;

export type ClientCredentials =
  | { method: 'client_secret_basic' | 'client_secret_post'; clientId: string; secret: string }
  | { method: 'private_key_jwt'; clientId: string; assertion: string };

function invalidClient(description: string): AppError {
  return new AppError('OAUTH_INVALID_CLIENT', { description });
}

/** RFC 6749 §2.3.1: both halves are form-urlencoded before Basic encoding. */
function parseBasic(header: string): { clientId: string; secret: string } {
  const match = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  const decoded = match ? Buffer.from(match[1]!, 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw invalidClient('malformed Basic credentials');
  try {
    const unescape = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { clientId: unescape(decoded.slice(0, colon)), secret: unescape(decoded.slice(colon + 1)) };
  } catch {
    throw invalidClient('malformed Basic credentials');
  }
}

/** Reads the credentials a request presents; refuses none, or more than one method. */
export function readClientCredentials(
  authorization: string | undefined,
  body: Record<string, unknown>,
): ClientCredentials {
  const inBody = typeof body.client_secret === 'string';
  if (authorization !== undefined && /^Basic\s/i.test(authorization)) {
    if (inBody || body.client_assertion !== undefined || body.client_assertion_type !== undefined)
      throw new AppError('OAUTH_INVALID_REQUEST', { description: 'use one client authentication method, not several' });
    const { clientId, secret } = parseBasic(authorization);
    if (typeof body.client_id === 'string' && body.client_id !== clientId) {
      throw new AppError('OAUTH_INVALID_REQUEST', {
        description: 'client_id in the body differs from the authenticated client',
      });
    }
    return { method: 'client_secret_basic', clientId, secret };
  }
  if (typeof body.client_assertion === 'string' || body.client_assertion_type !== undefined) {
    if (inBody)
      throw new AppError('OAUTH_INVALID_REQUEST', { description: 'use one client authentication method, not several' });
    if (body.client_assertion_type !== JWT_BEARER || typeof body.client_assertion !== 'string') {
      throw invalidClient(`client_assertion_type must be ${JWT_BEARER}, with a client_assertion`);
    }
    let subject: unknown;
    try {
      subject = decodeJwt(body.client_assertion).sub;
    } catch {
      throw invalidClient('malformed client assertion');
    }
    if (typeof subject !== 'string' || (body.client_id !== undefined && body.client_id !== subject)) {
      throw invalidClient('the client assertion must name the client as its sub');
    }
    return { method: 'private_key_jwt', clientId: subject, assertion: body.client_assertion };
  }
  if (inBody && typeof body.client_id === 'string') {
    return { method: 'client_secret_post', clientId: body.client_id, secret: body.client_secret as string };
  }
  throw invalidClient('no client authentication');
}

/**
 * Finds the app and checks the secret in constant time. Every failure reads the same to the client;
 * the app (when known) comes back with the reason so that the refusal can be audited in its account.
 */
export async function authenticateClient(
  { db, apps }: { db: Executor; apps: AppLookup },
  credentials: ClientCredentials,
  issuer: string,
): Promise<{ app: OAuthApp } | { app: OAuthApp | undefined; refused: AppError; reason: string }> {
  const app = credentials.clientId.length <= 200 ? await apps.findByClientId(credentials.clientId) : undefined;
  const refuse = (reason: string) => ({ app, refused: invalidClient('client authentication failed'), reason });
  if (!app) return refuse('unknown_client');
  if (app.auth_method !== credentials.method) return refuse(`wrong_method:${credentials.method}`);
  if (credentials.method === 'private_key_jwt') {
    const failure = await checkAssertion(db, app, credentials.assertion, issuer);
    if (failure) return refuse(failure);
  } else if (!verifyClientSecret(credentials.secret, app.secret_hash)) {
    return refuse('bad_secret');
  }
  if (app.disabled_at) return refuse('app_disabled');
  return { app };
}

/**
 * Verifies a client assertion (iss = sub = the client id, `aud` one of `audience`, `exp` at most `maxLifetime` s
 * ahead) against the app's JWKS and spends its jti; returns why it fails, if it does. Global Token Revocation
 * (global-logout.ts) verifies its bearer JWTs here too, so that a jti is single-use across both endpoints.
 */
export async function checkAssertion(
  db: Executor,
  app: OAuthApp,
  assertion: string,
  audience: string | string[],
  maxLifetime = MAX_ASSERTION_LIFETIME_S,
): Promise<string | undefined> {
  if (!app.jwks) return 'no_jwks';
  let payload;
  try {
    ({ payload } = await jwtVerify(assertion, createLocalJWKSet(app.jwks), {
      issuer: app.client_id,
      subject: app.client_id,
      audience,
      algorithms: ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'],
      requiredClaims: ['jti', 'exp'],
      clockTolerance: 5,
    }));
  } catch {
    return 'bad_assertion';
  }
  if (typeof payload.jti !== 'string' || payload.jti.length > 200) return 'bad_assertion';
  if (payload.exp! - Date.now() / 1000 > maxLifetime) return 'assertion_lifetime_too_long';
  // Kept past exp by more than the verification leeway, so a sweep never frees a jti still accepted.
  const fresh = await recordAssertionJti(db, {
    account_id: app.account_id,
    client_id: app.client_id,
    jti: payload.jti,
    expires_at: new Date((payload.exp! + 65) * 1000),
  });
  return fresh ? undefined : 'assertion_replayed';
}
