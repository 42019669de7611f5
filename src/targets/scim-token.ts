/**
 * The credential a `scim` connector sends: its static bearer token, or an OAuth access token from the
 * client credentials grant (RFC 6749 §4.4, client_secret_basic, `scope` when configured), cached until
 * 60 s before `expires_in` (900 s when the answer has none). The token endpoint's refusals (400, 401,
 * 403) are `auth` errors; its 429/5xx and network failures are `retry`.
 */
import { TargetError, isTargetError } from './connector.js';
import type { TargetHttp } from './http.js';
import type { ScimConfig, ScimCredentials } from './scim-config.js';

const DEFAULT_EXPIRES_S = 900;
const EARLY_S = 60;

export class ScimTokens {
  private cached: { token: string; until: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly http: TargetHttp,
    private readonly config: ScimConfig,
    private readonly credentials: ScimCredentials,
  ) {}

  /** Whether a 401 can be answered by fetching a new token (oauth), rather than being final (bearer). */
  get renewable(): boolean {
    return 'client_id' in this.credentials;
  }

  async get(): Promise<string> {
    if ('token' in this.credentials) return this.credentials.token;
    if (this.cached && Date.now() < this.cached.until) return this.cached.token;
    // Concurrent calls share one token request.
    this.pending ??= this.fetch(this.credentials).finally(() => (this.pending = undefined));
    return this.pending;
  }

  /** Forgets the cached token (only `token`, when given: a concurrent call may have renewed it already). */
  drop(token?: string): void {
    if (token === undefined || this.cached?.token === token) this.cached = undefined;
  }

  private async fetch(credentials: { client_id: string; client_secret: string }): Promise<string> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (this.config.scope) form.set('scope', this.config.scope);
    const basic = Buffer.from(
      `${encodeURIComponent(credentials.client_id)}:${encodeURIComponent(credentials.client_secret)}`,
    ).toString('base64');
    let json: Record<string, unknown>;
    try {
      const answer = await this.http.request('POST', this.config.token_url as string, {
        body: form.toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
      });
      json = (answer.json ?? {}) as Record<string, unknown>;
    } catch (error) {
      const status = isTargetError(error) ? error.details.status : null;
      if (isTargetError(error) && (status === 400 || status === 401 || status === 403))
        throw new TargetError({ ...error.details, class: 'auth' });
      throw error;
    }
    const token = json.access_token;
    if (typeof token !== 'string' || !token)
      throw new TargetError({
        class: 'auth',
        status: 200,
        code: 'invalid_token_response',
        message: 'the token endpoint answered without an access_token',
        request_id: null,
      });
    const expires = typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : DEFAULT_EXPIRES_S;
    const lifetime = expires > 2 * EARLY_S ? expires - EARLY_S : expires / 2;
    this.cached = { token, until: Date.now() + lifetime * 1000 };
    return token;
  }
}
