/**
 * The `gtr` kind: Global Token Revocation (draft-parecki-oauth-global-token-revocation-06). Cordon calls an
 * app's or an IdP's GTR endpoint (Okta's Universal Logout endpoint, Auth0's, another Cordon's) to end every
 * session and token of the subject there.
 *
 * - Authentication: a JWT signed with the target's `private_jwk` (§3.5, Okta's SIGNED_JWT: iss = sub =
 *   client_id, aud = the audience (default: the endpoint), a fresh jti, exp 60 s ahead; alg from the key:
 *   ES256/ES384 (EC), EdDSA (OKP), RS256 (RSA)), or a bearer token. Either is sent as `Authorization: Bearer`.
 * - Suspend = POST `{"sub_id": …}` in the configured format (email by default); any 2xx (the draft's 204) is
 *   done, 404 is gone, 401 (after one fresh JWT) auth, 429/5xx/network retry with Retry-After, other 4xx fatal.
 * - Revocation only: nothing to read back (`verifiable` false: the 204 is the proof), nothing to list, and a
 *   restore has nothing to undo (reactivate returns without a call).
 * - Health: a GTR call for a random opaque subject that cannot exist, expecting 404 (or 204): it proves the
 *   endpoint answers and accepts the credentials.
 */
import { randomUUID } from 'node:crypto';
import { importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import { AppError } from '../errors.js';
import {
  TargetError,
  type Connector,
  type ConnectorKind,
  type ConnectorOptions,
  type RemoteIdentity,
  type SubjectHints,
} from './connector.js';
import { TargetHttp } from './http.js';

type SubjectFormat = 'email' | 'opaque' | 'iss_sub';

interface GtrConfig {
  endpoint: string;
  auth: 'jwt' | 'bearer';
  audience: string;
  subject_format: SubjectFormat;
  issuer?: string;
}

type GtrCredentials = { token: string } | { client_id: string; private_jwk: JWK };

/** Lifetime of the JWTs Cordon signs (the draft recommends at most 5 minutes). */
const JWT_LIFETIME_S = 60;
const CONFIG_KEYS = ['endpoint', 'auth', 'audience', 'subject_format', 'issuer'];

function invalid(field: string, description: string): AppError {
  return new AppError('INVALID_ARGUMENT', { description: `${field}: ${description}`, metadata: { field } });
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(field, 'must be an object');
  return value as Record<string, unknown>;
}

function text(value: unknown, field: string, max = 2048): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > max)
    throw invalid(field, `must be a non-empty string of at most ${max} characters`);
  return value.trim();
}

function httpUrl(value: unknown, field: string): string {
  const raw = text(value, field);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid(field, 'must be an http(s) URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid(field, 'must be an http(s) URL');
  if (url.username || url.password) throw invalid(field, 'may not carry credentials');
  if (url.hash) throw invalid(field, 'may not carry a fragment');
  return raw.replace(/\/+$/, '');
}

/** The JWS algorithm a private JWK signs with. */
export function algorithmOf(jwk: JWK): string {
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  if (jwk.kty === 'EC' && jwk.crv === 'P-384') return 'ES384';
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  if (jwk.kty === 'RSA') return 'RS256';
  throw invalid('credentials.private_jwk', 'must be an EC P-256/P-384, OKP Ed25519 or RSA private key');
}

function validateConfig(raw: unknown): GtrConfig {
  const config = object(raw, 'config');
  const unknown = Object.keys(config).filter((k) => !CONFIG_KEYS.includes(k));
  if (unknown.length > 0) throw invalid(`config.${unknown[0]}`, `unknown; known: ${CONFIG_KEYS.join(', ')}`);
  const endpoint = httpUrl(config.endpoint, 'config.endpoint');
  if (config.auth !== 'jwt' && config.auth !== 'bearer') throw invalid('config.auth', 'must be jwt or bearer');
  const format = config.subject_format ?? 'email';
  if (format !== 'email' && format !== 'opaque' && format !== 'iss_sub')
    throw invalid('config.subject_format', 'must be email, opaque or iss_sub');
  const audience = config.audience === undefined ? endpoint : text(config.audience, 'config.audience');
  const issuer = config.issuer === undefined ? undefined : text(config.issuer, 'config.issuer');
  if (format === 'iss_sub' && issuer === undefined)
    throw invalid('config.issuer', 'is required with subject_format iss_sub (the iss of the subject identifier)');
  return { endpoint, auth: config.auth, audience, subject_format: format, ...(issuer ? { issuer } : {}) };
}

function validateCredentials(auth: GtrConfig['auth'], raw: unknown): GtrCredentials {
  const credentials = object(raw, 'credentials');
  if (auth === 'bearer') {
    if (Object.keys(credentials).some((k) => k !== 'token')) throw invalid('credentials', 'auth bearer takes {token}');
    return { token: text(credentials.token, 'credentials.token', 8192) };
  }
  if (Object.keys(credentials).some((k) => k !== 'client_id' && k !== 'private_jwk'))
    throw invalid('credentials', 'auth jwt takes {client_id, private_jwk}');
  const clientId = text(credentials.client_id, 'credentials.client_id', 200);
  const jwk = object(credentials.private_jwk, 'credentials.private_jwk') as JWK;
  if (typeof jwk.d !== 'string') throw invalid('credentials.private_jwk', 'must be a private key (with d)');
  algorithmOf(jwk);
  return { client_id: clientId, private_jwk: jwk };
}

class GtrConnector implements Connector {
  readonly kind = 'gtr' as const;
  readonly verifiable = false;
  private readonly http: TargetHttp;
  private signingKey: Promise<CryptoKey | Uint8Array> | undefined;

  constructor(
    private readonly config: GtrConfig,
    private readonly credentials: GtrCredentials,
    options: ConnectorOptions,
  ) {
    this.http = new TargetHttp(config.endpoint, options.userAgent, options.timeoutMs);
  }

  async resolve(hints: SubjectHints): Promise<RemoteIdentity | null> {
    const id = this.config.subject_format === 'email' ? hints.email : hints.external_id;
    if (!id) return null;
    return {
      external_id: id,
      email: hints.email ?? null,
      user_name: hints.user_name ?? null,
      display_name: null,
      state: 'UNKNOWN',
    };
  }

  async read(): Promise<RemoteIdentity | null> {
    throw fatal('not_verifiable', 'a gtr target is revocation only: there is no state to read back');
  }

  async suspend(externalId: string): Promise<void> {
    await this.revoke(this.subjectOf(externalId));
  }

  /** Revocation only: a restore has nothing to undo on a GTR endpoint. */
  async reactivate(): Promise<void> {}

  async list(): Promise<never> {
    throw fatal('not_listable', 'gtr targets cannot be listed');
  }

  async health() {
    const started = performance.now();
    try {
      await this.revoke({ format: 'opaque', id: `cordon-health-check-${randomUUID()}` }, 404);
      return { ok: true, latency_ms: Math.round(performance.now() - started) };
    } catch (error) {
      if (!(error instanceof TargetError)) throw error;
      return { ok: false, latency_ms: Math.round(performance.now() - started), error: error.details };
    }
  }

  async close(): Promise<void> {}

  takeCalls() {
    return this.http.takeCalls();
  }

  private subjectOf(externalId: string): Record<string, string> {
    switch (this.config.subject_format) {
      case 'email':
        return { format: 'email', email: externalId };
      case 'opaque':
        return { format: 'opaque', id: externalId };
      case 'iss_sub':
        return { format: 'iss_sub', iss: this.config.issuer!, sub: externalId };
    }
  }

  /** POSTs the request; a 401 of a signed JWT is tried once more with a fresh one (a bearer token cannot renew). */
  private async revoke(subId: Record<string, string>, alsoOk?: number): Promise<void> {
    const accept = (status: number) => (status >= 200 && status < 300) || status === alsoOk;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.http.request('POST', this.config.endpoint, {
          headers: { authorization: `Bearer ${await this.credential()}` },
          body: { sub_id: subId },
          accept,
        });
        return;
      } catch (error) {
        const retry = error instanceof TargetError && error.details.status === 401 && 'private_jwk' in this.credentials;
        if (!retry || attempt > 1) throw error;
      }
    }
  }

  private async credential(): Promise<string> {
    const credentials = this.credentials;
    if ('token' in credentials) return credentials.token;
    const alg = algorithmOf(credentials.private_jwk);
    this.signingKey ??= importJWK(credentials.private_jwk, alg);
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({
        alg,
        typ: 'JWT',
        ...(credentials.private_jwk.kid ? { kid: credentials.private_jwk.kid } : {}),
      })
      .setIssuer(credentials.client_id)
      .setSubject(credentials.client_id)
      .setAudience(this.config.audience)
      .setIssuedAt(now)
      .setExpirationTime(now + JWT_LIFETIME_S)
      .sign(await this.signingKey);
  }
}

function fatal(code: string, message: string): TargetError {
  return new TargetError({ class: 'fatal', status: null, code, message, request_id: null });
}

export const gtr: ConnectorKind = {
  kind: 'gtr',
  validate(config, credentials) {
    const valid = validateConfig(config);
    return {
      config: valid as unknown as Record<string, unknown>,
      credentials: validateCredentials(valid.auth, credentials),
    };
  },
  create(options) {
    const { config, credentials } = gtr.validate(options.config, options.credentials);
    return new GtrConnector(config as unknown as GtrConfig, credentials as unknown as GtrCredentials, options);
  },
};
