/**
 * Global Token Revocation (draft-parecki-oauth-global-token-revocation-06), the OAuth side: reading the
 * request's Subject Identifier (RFC 9493: `email`, `opaque`, `iss_sub`) and authenticating an app's signed
 * JWT (§3.5, in the RFC 7523 shape Cordon's private_key_jwt apps already sign: iss = sub = the client id, `aud`
 * this endpoint's URL or the issuer, `exp` at most 5 minutes ahead, each `jti` once, in the same replay table
 * as the token endpoint's assertions). The directory ends the sessions (directory/global-logout.ts); the route
 * (http/routes/global-token-revocation.ts) ties the two and answers as the draft says (§3.4).
 */
import { decodeJwt, type JWTPayload } from 'jose';
import { AppError } from '../errors.js';
import type { GlobalLogoutSubject } from '../directory/global-logout.js';
import type { OAuthApp } from '../storage/schema.js';
import type { Executor } from '../store/executor.js';
import type { AppLookup } from './app-lookup.js';
import { checkAssertion } from './client-auth.js';

export const GTR_PATH = '/oauth/global-token-revocation';
/** §3.5: "a validity window of five minutes is RECOMMENDED". */
export const GTR_JWT_MAX_LIFETIME_S = 300;
const MAX_VALUE = 320;

export type SubjectFormat = 'email' | 'opaque' | 'iss_sub';

export interface RevocationRequest {
  format: SubjectFormat;
  /** Whom to log out in the caller's account; undefined when the subject names another issuer's user. */
  subject: GlobalLogoutSubject | undefined;
}

function invalid(description: string): AppError {
  return new AppError('OAUTH_INVALID_REQUEST', { description });
}

/** A member of the subject identifier: a non-empty string of at most 320 characters, no control character. */
function member(sub: Record<string, unknown>, name: string, format: string): string {
  const value = sub[name];
  if (typeof value !== 'string' || value === '' || value.length > MAX_VALUE)
    throw invalid(`sub_id.${name} must be a string of 1 to ${MAX_VALUE} characters for format ${format}`);
  if (/[\u0000-\u001f\u007f]/.test(value)) throw invalid(`sub_id.${name} may not hold control characters`);
  return value;
}

const sameIssuer = (a: string, b: string) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

/**
 * The request body (the raw text, read whatever its content type) as whom it names. A body that is not
 * JSON, not `{"sub_id": {...}}`, or a format other than the three is 400 invalid_request (§3.4.2).
 */
export function readRevocationRequest(
  body: unknown,
  contentType: string | undefined,
  issuer: string,
): RevocationRequest {
  if (!/^application\/json\s*(;|$)/i.test(contentType ?? ''))
    throw invalid('send the request as application/json: {"sub_id": {"format": …}}');
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof body === 'string' ? body : '');
  } catch {
    throw invalid('the body is not JSON');
  }
  const sub = (parsed as { sub_id?: unknown } | null)?.sub_id;
  if (typeof parsed !== 'object' || Array.isArray(parsed) || typeof sub !== 'object' || !sub || Array.isArray(sub))
    throw invalid('the body must be {"sub_id": {"format": …}} (RFC 9493 subject identifier)');
  const fields = sub as Record<string, unknown>;
  switch (fields.format) {
    case 'email': {
      const email = member(fields, 'email', 'email');
      if (!email.includes('@')) throw invalid('sub_id.email is not an email address');
      return { format: 'email', subject: { email } };
    }
    case 'opaque':
      return { format: 'opaque', subject: { userId: member(fields, 'id', 'opaque') } };
    case 'iss_sub': {
      const iss = member(fields, 'iss', 'iss_sub');
      const userId = member(fields, 'sub', 'iss_sub');
      // Cordon knows its own users only: another issuer's subject is no user here (404).
      return { format: 'iss_sub', subject: sameIssuer(iss, issuer) ? { userId } : undefined };
    }
    default:
      throw invalid('sub_id.format must be email, opaque or iss_sub');
  }
}

/** The RFC 6750 challenge of this endpoint. */
export function bearerChallenge(error?: 'invalid_token'): Record<string, string> {
  return { 'www-authenticate': `Bearer realm="cordon"${error ? `, error="${error}"` : ''}` };
}

export type JwtAuthentication =
  | { app: OAuthApp; payload: JWTPayload & { jti: string; exp: number } }
  | { app: OAuthApp | undefined; refused: AppError; reason: string };

/**
 * Authenticates a bearer JWT an app signed with a key of its JWKS (a private_key_jwt app). Every failure reads
 * the same to the caller (401 invalid_token); the app, when the JWT names one, comes back with the reason so that
 * the refusal is audited in its account.
 */
export async function authenticateAppJwt(
  deps: { db: Executor; apps: AppLookup },
  token: string,
  issuer: string,
): Promise<JwtAuthentication> {
  let claims: JWTPayload | undefined;
  try {
    claims = decodeJwt(token);
  } catch {
    claims = undefined;
  }
  const clientId = claims?.iss;
  const app =
    typeof clientId === 'string' && clientId.length <= 200 ? await deps.apps.findByClientId(clientId) : undefined;
  const refuse = (reason: string): JwtAuthentication => ({
    app,
    refused: new AppError('UNAUTHENTICATED', {
      description: 'the access token or signed JWT is invalid, expired or used before',
      headers: bearerChallenge('invalid_token'),
    }),
    reason,
  });
  if (!app) return refuse('unknown_client');
  if (app.auth_method !== 'private_key_jwt' || !app.jwks) return refuse('no_registered_key');
  const failure = await checkAssertion(deps.db, app, token, [`${issuer}${GTR_PATH}`, issuer], GTR_JWT_MAX_LIFETIME_S);
  if (failure) return refuse(failure);
  if (app.disabled_at) return refuse('app_disabled');
  return { app, payload: claims as JWTPayload & { jti: string; exp: number } };
}
