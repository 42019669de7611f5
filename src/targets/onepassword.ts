/**
 * Kind `onepassword`: the 1Password Users API for Partners, or anything that speaks it (Cordon's own Users
 * API does). The wire contract, call by call:
 *
 * - Token: `POST {base}/v1/oauth/token` (api_version v1) or `{base}/v1beta1/users/oauth2/token` (v1beta1),
 *   `client_secret_basic`, form body `grant_type=client_credentials&scope=openid`. The token is kept until
 *   60 s before its `expires_in` (900 s, 1Password's lifetime, when absent); one fetch serves concurrent
 *   callers. A 401 on a resource call drops it, fetches a new one and retries once; a second 401 is `auth`.
 * - Users at `{base}/{version}/accounts/{account_id}/users`: ListUsers with snake_case `max_page_size` and
 *   `page_token`, answered `{results, next_page_token}` (a missing `results` is an empty page, an absent or
 *   empty `next_page_token` the last); GetUser; `:suspend` and `:reactivate` POSTed with no body.
 * - Outcomes: 403 on `:suspend`/`:reactivate` (the last owner's `no_owner_remain`, an externally managed
 *   administrator) is `protected`, keeping the target's code and message; 404 on a user is `gone`; 429/5xx
 *   and network failures `retry` (with Retry-After); other 4xx `fatal`.
 * - close(): revokes the cached token (RFC 7009, `{base}/v1/oauth/revoke` or
 *   `{base}/v1beta1/users/oauth2/revoke`); a failure is ignored, as the token expires on its own.
 *
 * Regions (`config.base_url`):
 *
 * | Account on    | base_url                    |
 * | ------------- | --------------------------- |
 * | 1Password.com | `https://api.1password.com` |
 * | 1Password.ca  | `https://api.1password.ca`  |
 * | 1Password.eu  | `https://api.1password.eu`  |
 *
 * 1Password documents no separate Users API host for `ent.1password.com` accounts (they use
 * api.1password.com). `api_version` is `v1` (GA, the default) or `v1beta1` (the public preview, shut off at
 * GA). The OAuth app needs the four permissions: list users, get user, suspend users, reactivate users.
 */
import {
  isTargetError,
  TargetError,
  type CallRecord,
  type Connector,
  type ConnectorKind,
  type ConnectorOptions,
  type HealthReport,
  type IdentityPage,
  type RemoteIdentity,
  type SubjectHints,
  type TargetErrorClass,
} from './connector.js';
import { TargetHttp, type HttpAnswer } from './http.js';
import {
  validateOnePassword,
  type ApiVersion,
  type OnePasswordConfig,
  type OnePasswordCredentials,
} from './onepassword-config.js';

export const OAUTH_PATHS: Record<ApiVersion, { token: string; revoke: string }> = {
  v1: { token: '/v1/oauth/token', revoke: '/v1/oauth/revoke' },
  v1beta1: { token: '/v1beta1/users/oauth2/token', revoke: '/v1beta1/users/oauth2/revoke' },
};
/** 1Password's token lifetime, assumed when the answer has no `expires_in`. */
const DEFAULT_EXPIRES_IN_S = 900;
/** A token is replaced this long before it expires, so that no call carries one that dies on the way. */
const REFRESH_MARGIN_MS = 60_000;
/** The largest page ListUsers serves: the sync walk and the email search use it. */
export const LIST_PAGE_SIZE = 1000;
const TOKEN_BODY = 'grant_type=client_credentials&scope=openid';
const FORM = 'application/x-www-form-urlencoded';

/** RFC 6749 §2.3.1: each half of the Basic credentials is form-urlencoded first. */
const formEncode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');

/** A 2xx whose body is not what the contract says: the target does not speak it (or a proxy answered). */
function invalidResponse(answer: HttpAnswer, message: string): TargetError {
  return new TargetError({
    class: 'fatal',
    status: answer.status,
    code: 'invalid_response',
    message,
    request_id: answer.requestId,
  });
}

/** The same error with another class (the target's status, code, message and request id kept). */
function reclass(error: TargetError, cls: TargetErrorClass): TargetError {
  return new TargetError({ ...error.details, class: cls }, error.retryAfterMs);
}

/** A 403 on `:suspend`/`:reactivate` is the target protecting the user (last owner, EAM), not a transport error. */
const protectedOn403 = (error: TargetError) => (error.details.status === 403 ? reclass(error, 'protected') : error);
/** A 404 on the users collection is a wrong account or base URL, not a gone identity. */
const fatalOn404 = (error: TargetError) => (error.details.status === 404 ? reclass(error, 'fatal') : error);

/**
 * The token endpoint's refusals: bad client credentials (401, 403, or 400 `invalid_client` and kin) are
 * `auth`; a 404 is a wrong base URL or version (`fatal`, not a gone identity).
 */
function tokenError(error: TargetError): TargetError {
  const { status, code } = error.details;
  const refused = ['invalid_client', 'unauthorized_client', 'invalid_grant'];
  if (status === 401 || status === 403 || (status === 400 && refused.includes(code ?? '')))
    return reclass(error, 'auth');
  if (status === 404) return reclass(error, 'fatal');
  return error;
}

function identityOf(answer: HttpAnswer, value: unknown): RemoteIdentity {
  const user = (value !== null && typeof value === 'object' ? value : {}) as Record<string, unknown>;
  if (typeof user.id !== 'string' || user.id === '') throw invalidResponse(answer, 'a user without an id');
  const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : null);
  return {
    external_id: user.id,
    email: text(user.email),
    user_name: null,
    display_name: text(user.display_name),
    // STATE_UNSPECIFIED, or a state this version does not know, is no claim either way.
    state: user.state === 'ACTIVE' || user.state === 'SUSPENDED' ? user.state : 'UNKNOWN',
  };
}

class OnePasswordConnector implements Connector {
  readonly kind = 'onepassword' as const;
  readonly verifiable = true;
  private readonly http: TargetHttp;
  private readonly oauth: { token: string; revoke: string };
  private readonly users: string;
  private readonly basic: string;
  private token: { value: string; staleAt: number } | undefined;
  private fetching: Promise<string> | undefined;

  constructor(config: OnePasswordConfig, credentials: OnePasswordCredentials, options: ConnectorOptions) {
    this.http = new TargetHttp(config.base_url, options.userAgent, options.timeoutMs);
    this.oauth = OAUTH_PATHS[config.api_version];
    this.users = `/${config.api_version}/accounts/${encodeURIComponent(config.account_id)}/users`;
    const pair = `${formEncode(credentials.client_id)}:${formEncode(credentials.client_secret)}`;
    this.basic = `Basic ${Buffer.from(pair).toString('base64')}`;
  }

  async resolve(hints: SubjectHints): Promise<RemoteIdentity | null> {
    if (hints.external_id) {
      const found = await this.read(hints.external_id);
      if (found) return found;
    }
    // 1Password's users are known by their email; a user name that is an address (a UPN) is looked up as one.
    const wanted = [hints.email, hints.user_name?.includes('@') ? hints.user_name : undefined]
      .filter((v): v is string => typeof v === 'string' && v.trim() !== '')
      .map((v) => v.trim().toLowerCase());
    if (wanted.length === 0) return null;
    let page: string | undefined;
    do {
      const { identities, next } = await this.list(page);
      const match = identities.find((i) => i.email !== null && wanted.includes(i.email.toLowerCase()));
      if (match) return match;
      page = next;
    } while (page !== undefined);
    return null;
  }

  async read(externalId: string): Promise<RemoteIdentity | null> {
    try {
      const answer = await this.call('GET', this.userPath(externalId));
      return identityOf(answer, answer.json);
    } catch (error) {
      if (isTargetError(error) && error.details.class === 'gone') return null;
      throw error;
    }
  }

  async suspend(externalId: string): Promise<void> {
    await this.call('POST', `${this.userPath(externalId)}:suspend`, protectedOn403);
  }

  async reactivate(externalId: string): Promise<void> {
    await this.call('POST', `${this.userPath(externalId)}:reactivate`, protectedOn403);
  }

  list(page: string | undefined): Promise<IdentityPage> {
    return this.listPage(page, LIST_PAGE_SIZE);
  }

  /** `cordon targets test`: a token (the cached one while it lasts) and ListUsers with max_page_size=1. */
  async health(): Promise<HealthReport> {
    const started = performance.now();
    const latency = () => Math.round(performance.now() - started);
    try {
      await this.listPage(undefined, 1);
      return { ok: true, latency_ms: latency() };
    } catch (error) {
      if (!isTargetError(error)) throw error;
      return { ok: false, latency_ms: latency(), error: error.details };
    }
  }

  async close(): Promise<void> {
    await this.fetching?.catch(() => undefined);
    const token = this.token?.value;
    this.token = undefined;
    if (token === undefined) return;
    try {
      await this.http.request('POST', this.oauth.revoke, {
        headers: { authorization: this.basic, 'content-type': FORM },
        body: `token=${formEncode(token)}&token_type_hint=access_token`,
      });
    } catch {
      // Best effort: a token that could not be revoked expires within its lifetime anyway.
    }
  }

  takeCalls(): CallRecord[] {
    return this.http.takeCalls();
  }

  private userPath(externalId: string): string {
    // Never a path that resolves elsewhere (`..`) or back to the collection (empty).
    if (['', '.', '..'].includes(externalId) || externalId.length > 200) {
      const message = `not a user id: "${externalId.slice(0, 50)}"`;
      throw new TargetError({ class: 'fatal', status: null, code: 'invalid_id', message, request_id: null });
    }
    return `${this.users}/${encodeURIComponent(externalId)}`;
  }

  private async listPage(page: string | undefined, size: number): Promise<IdentityPage> {
    const query = new URLSearchParams({ max_page_size: String(size) });
    if (page !== undefined) query.set('page_token', page);
    const answer = await this.call('GET', `${this.users}?${query.toString()}`, fatalOn404);
    const body = (answer.json !== null && typeof answer.json === 'object' ? answer.json : undefined) as
      { results?: unknown; next_page_token?: unknown } | undefined;
    if (body === undefined) throw invalidResponse(answer, 'ListUsers answered no JSON object');
    // Proto3 JSON leaves out empty fields: no `results` is an empty page, no `next_page_token` the last one.
    const results = body.results ?? [];
    if (!Array.isArray(results)) throw invalidResponse(answer, 'ListUsers answered `results` that is not a list');
    const next = body.next_page_token;
    return {
      identities: results.map((user) => identityOf(answer, user)),
      next: typeof next === 'string' && next !== '' ? next : undefined,
    };
  }

  /** A resource call with the bearer token; on 401, a new token and one more try. */
  private async call(
    method: string,
    path: string,
    refine: (error: TargetError) => TargetError = (e) => e,
  ): Promise<HttpAnswer> {
    const attempt = async (token: string) => {
      try {
        return await this.http.request(method, path, { headers: { authorization: `Bearer ${token}` } });
      } catch (error) {
        throw isTargetError(error) && error.details.status !== 401 ? refine(error) : error;
      }
    };
    const token = await this.accessToken();
    try {
      return await attempt(token);
    } catch (error) {
      if (!isTargetError(error) || error.details.status !== 401) throw error;
      // Revoked, or expired early: the cached token goes (unless a concurrent call already replaced it).
      if (this.token?.value === token) this.token = undefined;
      return attempt(await this.accessToken());
    }
  }

  private accessToken(): Promise<string> {
    if (this.token && Date.now() < this.token.staleAt) return Promise.resolve(this.token.value);
    this.fetching ??= this.fetchToken().finally(() => {
      this.fetching = undefined;
    });
    return this.fetching;
  }

  private async fetchToken(): Promise<string> {
    let answer: HttpAnswer;
    try {
      answer = await this.http.request('POST', this.oauth.token, {
        headers: { authorization: this.basic, 'content-type': FORM },
        body: TOKEN_BODY,
      });
    } catch (error) {
      throw isTargetError(error) ? tokenError(error) : error;
    }
    const body = (answer.json ?? {}) as { access_token?: unknown; expires_in?: unknown };
    if (typeof body.access_token !== 'string' || body.access_token === '')
      throw invalidResponse(answer, 'the token endpoint answered no access_token');
    const expiresIn =
      typeof body.expires_in === 'number' && Number.isFinite(body.expires_in) && body.expires_in > 0
        ? body.expires_in
        : DEFAULT_EXPIRES_IN_S;
    this.token = { value: body.access_token, staleAt: Date.now() + expiresIn * 1000 - REFRESH_MARGIN_MS };
    return body.access_token;
  }
}

export const onepassword: ConnectorKind = {
  kind: 'onepassword',
  validate(config, credentials) {
    const valid = validateOnePassword(config, credentials);
    return { config: { ...valid.config }, credentials: { ...valid.credentials } };
  },
  create(options) {
    const { config, credentials } = validateOnePassword(options.config, options.credentials);
    return new OnePasswordConnector(config, credentials, options);
  },
};
