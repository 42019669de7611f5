/**
 * The settings of a `onepassword` target, checked when the target is added or changed: the config kept
 * in clear (`base_url`, `api_version`, `account_id`) and the sealed credentials (`client_id`,
 * `client_secret`). Each refusal is INVALID_ARGUMENT naming the field, never echoing a credential.
 *
 * The base URL is the region's API host (onepassword.ts lists them) or any server speaking the contract:
 * https only, except plain http on a loopback host (a local test double, another Cordon on the machine).
 */
import { isLoopback } from '../config.js';
import { AppError } from '../errors.js';

export type ApiVersion = 'v1' | 'v1beta1';
export const API_VERSIONS: readonly ApiVersion[] = ['v1', 'v1beta1'];

export interface OnePasswordConfig {
  /** Origin (and optional path prefix) without a trailing slash, e.g. `https://api.1password.eu`. */
  base_url: string;
  api_version: ApiVersion;
  account_id: string;
}

export interface OnePasswordCredentials {
  client_id: string;
  client_secret: string;
}

/** A 1Password account id is 26 base32 characters; any safe path segment is taken, for compatible servers. */
const ACCOUNT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const CREDENTIAL_MAX = 1000;

function invalid(field: string, description: string): AppError {
  return new AppError('INVALID_ARGUMENT', { description: `${field}: ${description}`, metadata: { field } });
}

function objectOf(value: unknown, field: string, allowed: readonly string[]): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid(field, 'must be an object');
  const obj = value as Record<string, unknown>;
  const unknown = Object.keys(obj).find((key) => !allowed.includes(key));
  if (unknown !== undefined) {
    throw invalid(`${field}.${unknown.slice(0, 100)}`, `not a setting of a onepassword target (${allowed.join(', ')})`);
  }
  return obj;
}

function requiredString(obj: Record<string, unknown>, key: string, field: string, max: number): string {
  const value = obj[key];
  if (typeof value !== 'string' || value.trim() === '') throw invalid(`${field}.${key}`, 'is required');
  if (value.length > max) throw invalid(`${field}.${key}`, `must be at most ${max} characters`);
  return value;
}

function baseUrlOf(raw: string): string {
  const field = 'config.base_url';
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw invalid(field, 'must be an absolute URL, e.g. https://api.1password.com');
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(host)))
    throw invalid(field, 'must be an https:// URL (http:// only on a loopback host)');
  if (url.username || url.password) throw invalid(field, 'must not hold credentials: give them as credentials');
  if (url.search || url.hash) throw invalid(field, 'must have no query or fragment');
  return url.origin + url.pathname.replace(/\/+$/, '');
}

/** The config and credentials normalised (default api_version v1, no trailing slash), or INVALID_ARGUMENT. */
export function validateOnePassword(
  config: unknown,
  credentials: unknown,
): { config: OnePasswordConfig; credentials: OnePasswordCredentials } {
  const c = objectOf(config, 'config', ['base_url', 'api_version', 'account_id']);
  const baseUrl = baseUrlOf(requiredString(c, 'base_url', 'config', 2000));
  const version = c.api_version ?? 'v1';
  if (typeof version !== 'string' || !(API_VERSIONS as readonly string[]).includes(version))
    throw invalid('config.api_version', `must be one of ${API_VERSIONS.join(', ')}`);
  const accountId = requiredString(c, 'account_id', 'config', 128).trim();
  if (!ACCOUNT_ID.test(accountId))
    throw invalid(
      'config.account_id',
      'must be the account id (letters, digits, - and _), e.g. XLQMR47VZPBKJHSGWNCYFDE3T9',
    );
  const k = objectOf(credentials, 'credentials', ['client_id', 'client_secret']);
  return {
    config: { base_url: baseUrl, api_version: version as ApiVersion, account_id: accountId },
    credentials: {
      client_id: requiredString(k, 'client_id', 'credentials', CREDENTIAL_MAX),
      client_secret: requiredString(k, 'client_secret', 'credentials', CREDENTIAL_MAX),
    },
  };
}
