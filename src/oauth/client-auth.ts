/**
 * Client authentication at the token endpoint (RFC 6749 §2.3): `client_secret_basic` (the 1Password
 * contract) and `client_secret_post`. A client must use exactly one method, the one its app names.
 */
import { AppError } from '../errors.js';
import type { AuthMethod, OAuthApp } from '../storage/schema.js';
import { findAppByClientId } from '../store/apps.js';
import type { Executor } from '../store/executor.js';
import { verifyClientSecret } from './client-secret.js';

export interface ClientCredentials {
  method: AuthMethod;
  clientId: string;
  secret: string;
}

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
export function readClientCredentials(authorization: string | undefined, body: Record<string, unknown>): ClientCredentials {
  const inBody = typeof body.client_secret === 'string';
  if (authorization !== undefined && /^Basic\s/i.test(authorization)) {
    if (inBody) throw new AppError('OAUTH_INVALID_REQUEST', { description: 'use one client authentication method, not several' });
    const { clientId, secret } = parseBasic(authorization);
    if (typeof body.client_id === 'string' && body.client_id !== clientId) {
      throw new AppError('OAUTH_INVALID_REQUEST', { description: 'client_id in the body differs from the authenticated client' });
    }
    return { method: 'client_secret_basic', clientId, secret };
  }
  if (inBody && typeof body.client_id === 'string') {
    return { method: 'client_secret_post', clientId: body.client_id, secret: body.client_secret as string };
  }
  if (typeof body.client_assertion === 'string') throw invalidClient('private_key_jwt client authentication is not available yet');
  throw invalidClient('no client authentication');
}

/**
 * Finds the app and checks the secret in constant time. Every failure reads the same to the client;
 * the app (when known) comes back with the reason so that the refusal can be audited in its account.
 */
export async function authenticateClient(db: Executor, credentials: ClientCredentials): Promise<{ app: OAuthApp } | { app: OAuthApp | undefined; refused: AppError; reason: string }> {
  const app = credentials.clientId.length <= 200 ? await findAppByClientId(db, credentials.clientId) : undefined;
  const refuse = (reason: string) => ({ app, refused: invalidClient('client authentication failed'), reason });
  if (!app) return refuse('unknown_client');
  if (!verifyClientSecret(credentials.secret, app.secret_hash)) return refuse('bad_secret');
  if (app.auth_method !== credentials.method) return refuse(`wrong_method:${credentials.method}`);
  if (app.disabled_at) return refuse('app_disabled');
  return { app };
}
