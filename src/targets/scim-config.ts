/**
 * The settings of a `scim` target, checked when it is added or changed: the config (kept in clear) and
 * the credentials (sealed). Every refusal is an INVALID_ARGUMENT naming the field; nothing in a refusal
 * quotes a credential.
 *
 * - config `{base_url, auth: "bearer" | "oauth", token_url?, scope?, page_size?}`: base_url is the SCIM
 *   base (`…/scim/v2`), https (http only on loopback), without credentials, query or fragment, kept without
 *   a trailing slash; token_url (oauth only, required there) follows the same rule; page_size is the
 *   `count` of a list page (1–1000, default 100).
 * - credentials `{token}` (bearer) or `{client_id, client_secret}` (oauth: client credentials grant with
 *   client_secret_basic at token_url).
 */
import { isLoopback } from '../config.js';
import { AppError } from '../errors.js';

export type ScimConfig = {
  base_url: string;
  auth: 'bearer' | 'oauth';
  token_url?: string | undefined;
  scope?: string | undefined;
  page_size: number;
};

export type ScimCredentials = { token: string } | { client_id: string; client_secret: string };

export const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;
const CONFIG_FIELDS = ['base_url', 'auth', 'token_url', 'scope', 'page_size'];

function invalid(field: string, description: string): AppError {
  return new AppError('INVALID_ARGUMENT', { description: `${field}: ${description}`, metadata: { field } });
}

function record(value: unknown, field: string): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw invalid(field, 'expected an object');
  return value as Record<string, unknown>;
}

function text(value: unknown, field: string, max = 2000): string {
  if (typeof value !== 'string' || !value.trim() || value.length > max || /[\u0000-\u001f\u007f]/.test(value))
    throw invalid(field, `expected a non-empty string of at most ${max} characters without control characters`);
  return value;
}

/** An https:// URL (http:// on loopback), without credentials, query or fragment; no trailing slash. */
export function targetUrl(value: unknown, field: string): string {
  let url: URL;
  try {
    url = new URL(text(value, field));
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw invalid(field, 'expected an absolute URL');
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(host))))
    throw invalid(field, 'expected an https:// URL (http:// only on a loopback address)');
  if (url.username || url.password) throw invalid(field, 'credentials do not belong in the URL');
  if (url.search || url.hash || String(value).includes('?') || String(value).includes('#'))
    throw invalid(field, 'expected a URL without query or fragment');
  return url.href.replace(/\/+$/, '');
}

export function validateScim(
  config: unknown,
  credentials: unknown,
): { config: ScimConfig; credentials: ScimCredentials } {
  const c = record(config, 'config');
  for (const key of Object.keys(c))
    if (!CONFIG_FIELDS.includes(key)) throw invalid(`config.${key}`, 'not a setting of a scim target');
  const auth = c.auth ?? 'bearer';
  if (auth !== 'bearer' && auth !== 'oauth') throw invalid('config.auth', 'expected "bearer" or "oauth"');
  const out: ScimConfig = { base_url: targetUrl(c.base_url, 'config.base_url'), auth, page_size: DEFAULT_PAGE_SIZE };
  if (c.page_size !== undefined) {
    if (!Number.isInteger(c.page_size) || (c.page_size as number) < 1 || (c.page_size as number) > MAX_PAGE_SIZE)
      throw invalid('config.page_size', `expected an integer from 1 to ${MAX_PAGE_SIZE}`);
    out.page_size = c.page_size as number;
  }
  if (auth === 'oauth') {
    out.token_url = targetUrl(c.token_url, 'config.token_url');
    if (c.scope !== undefined) out.scope = text(c.scope, 'config.scope', 500);
  } else if (c.token_url !== undefined || c.scope !== undefined) {
    throw invalid(c.token_url !== undefined ? 'config.token_url' : 'config.scope', 'only for auth "oauth"');
  }

  const k = record(credentials, 'credentials');
  const expected = auth === 'bearer' ? ['token'] : ['client_id', 'client_secret'];
  for (const key of Object.keys(k))
    if (!expected.includes(key)) throw invalid(`credentials.${key}`, `not a credential of auth "${auth}"`);
  if (auth === 'bearer') return { config: out, credentials: { token: text(k.token, 'credentials.token', 8000) } };
  return {
    config: out,
    credentials: {
      client_id: text(k.client_id, 'credentials.client_id', 500),
      client_secret: text(k.client_secret, 'credentials.client_secret', 2000),
    },
  };
}
