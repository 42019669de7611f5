/**
 * The `scim` target kind: any SCIM 2.0 service provider (RFC 7643/7644), authenticated by a bearer token
 * or OAuth client credentials (scim-config.ts has the settings).
 *
 * - suspend / reactivate: `PATCH /Users/{id}` replacing `active` and nothing else. Where
 *   /ServiceProviderConfig says PATCH is unsupported (or a PATCH answers 501/405), the resource is read and
 *   PUT back whole with only `active` changed (meta and the read-only `groups` left out), so a restore never
 *   re-adds what was removed meanwhile. A 400 `invalidPath` on the path form is retried once in the
 *   path-less form `{"op":"replace","value":{"active":…}}` that some providers require.
 * - ETags: where offered (etag.supported, an ETag header or meta.version), writes carry `If-Match`; a 412
 *   re-reads the resource and retries once.
 * - resolve: `userName eq` the user name, then the email, then `emails.value eq` the email (values as JSON
 *   strings, RFC 7644 §3.4.2.2); two matches for one email are refused rather than guessed.
 * - list: `startIndex`/`count` pages (count = page_size); the page token is the next startIndex.
 * - errors: SCIM's `{scimType, detail, status}` mapped as connector.ts says; a 403 on a write is a target
 *   protecting the user; a 401 under oauth fetches a new token and retries once.
 */
import {
  TargetError,
  isTargetError,
  type CallRecord,
  type Connector,
  type ConnectorKind,
  type ConnectorOptions,
  type HealthReport,
  type IdentityPage,
  type RemoteIdentity,
  type SubjectHints,
} from './connector.js';
import { TargetHttp } from './http.js';
import { validateScim, type ScimConfig, type ScimCredentials } from './scim-config.js';
import { ScimTokens } from './scim-token.js';
import { activePatch, identityOf, scimFilter, versionOf, type Resource } from './scim-wire.js';

const SCIM_JSON = 'application/scim+json';
/** How long what /ServiceProviderConfig said is trusted before it is asked again. */
const CAPABILITIES_TTL_MS = 10 * 60_000;

interface Capabilities {
  patch: boolean;
  etag: boolean;
  at: number;
}

function fatal(code: string, message: string): TargetError {
  return new TargetError({ class: 'fatal', status: null, code, message, request_id: null });
}

function reclassify(error: TargetError, cls: TargetError['details']['class']): TargetError {
  return new TargetError({ ...error.details, class: cls }, error.retryAfterMs);
}

function statusOf(error: unknown): number | null | undefined {
  return isTargetError(error) ? error.details.status : undefined;
}

class ScimConnector implements Connector {
  readonly kind = 'scim' as const;
  readonly verifiable = true;
  private readonly http: TargetHttp;
  private readonly tokens: ScimTokens;
  private capabilities: Capabilities | undefined;

  constructor(
    private readonly config: ScimConfig,
    credentials: ScimCredentials,
    userAgent: string,
    timeoutMs: number | undefined,
  ) {
    this.http = new TargetHttp(config.base_url, userAgent, timeoutMs);
    this.tokens = new ScimTokens(this.http, config, credentials);
  }

  /** A call with the credential; under oauth a 401 fetches a new token and the call is made once more. */
  private async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const send = (token: string) =>
      this.http.request(method, path, {
        body,
        headers: {
          accept: `${SCIM_JSON}, application/json`,
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': SCIM_JSON }),
          ...headers,
        },
      });
    const token = await this.tokens.get();
    try {
      return await send(token);
    } catch (error) {
      if (statusOf(error) !== 401 || !this.tokens.renewable) throw error;
      this.tokens.drop(token);
      return send(await this.tokens.get());
    }
  }

  private async getCapabilities(force = false): Promise<Capabilities> {
    if (!force && this.capabilities && Date.now() - this.capabilities.at < CAPABILITIES_TTL_MS)
      return this.capabilities;
    let config: Resource = {};
    try {
      config = ((await this.call('GET', '/ServiceProviderConfig')).json ?? {}) as Resource;
    } catch (error) {
      // A provider that does not serve the endpoint: assume RFC 7644's PATCH, no ETags.
      if (statusOf(error) !== 404 && statusOf(error) !== 501) throw error;
    }
    const supported = (key: string) => ((config[key] ?? {}) as Resource).supported;
    this.capabilities = { patch: supported('patch') !== false, etag: supported('etag') === true, at: Date.now() };
    return this.capabilities;
  }

  private userPath(externalId: string): string {
    return `/Users/${encodeURIComponent(externalId)}`;
  }

  async read(externalId: string): Promise<RemoteIdentity | null> {
    try {
      return identityOf((await this.call('GET', this.userPath(externalId))).json);
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw error;
    }
  }

  private async search(filter: string): Promise<Resource[]> {
    const answer = await this.call('GET', `/Users?filter=${encodeURIComponent(filter)}`);
    const resources = (answer.json as Resource | undefined)?.Resources;
    return Array.isArray(resources) ? (resources as Resource[]) : [];
  }

  async resolve(hints: SubjectHints): Promise<RemoteIdentity | null> {
    if (hints.external_id) {
      const found = await this.read(hints.external_id);
      if (found) return found;
    }
    const names = [...new Set([hints.user_name, hints.email].filter((v): v is string => !!v))];
    for (const name of names) {
      const [first] = await this.search(scimFilter('userName', name));
      if (first) return identityOf(first);
    }
    if (!hints.email) return null;
    const matches = await this.search(scimFilter('emails.value', hints.email));
    if (matches.length > 1)
      throw fatal('ambiguous', `${matches.length} users have the email ${hints.email}; none was chosen`);
    return matches[0] ? identityOf(matches[0]) : null;
  }

  async suspend(externalId: string): Promise<void> {
    await this.setActive(externalId, false);
  }

  async reactivate(externalId: string): Promise<void> {
    await this.setActive(externalId, true);
  }

  /** A write's errors, mapped: 403 is the target protecting the user; a second 412 is worth retrying later. */
  private async write(method: string, path: string, body: Resource, version: string | undefined) {
    try {
      return await this.call(method, path, body, version ? { 'if-match': version } : {});
    } catch (error) {
      if (!isTargetError(error)) throw error;
      if (error.details.status === 403) throw reclassify(error, 'protected');
      if (error.details.status === 412) throw reclassify(error, 'retry');
      throw error;
    }
  }

  private async setActive(externalId: string, active: boolean): Promise<void> {
    const path = this.userPath(externalId);
    const capabilities = await this.getCapabilities();
    if (capabilities.patch) {
      try {
        await this.withVersion(path, capabilities.etag, (version) => this.patch(path, active, version));
        return;
      } catch (error) {
        const status = statusOf(error);
        if (status !== 501 && status !== 405) throw error;
        capabilities.patch = false;
      }
    }
    await this.withVersion(path, true, (version, resource) => {
      const { meta: _meta, groups: _groups, ...attributes } = resource ?? {};
      return this.write('PUT', path, { ...attributes, active }, version);
    });
  }

  private async patch(path: string, active: boolean, version: string | undefined): Promise<void> {
    try {
      await this.write('PATCH', path, activePatch(active), version);
    } catch (error) {
      const details = isTargetError(error) ? error.details : undefined;
      if (details?.status !== 400 || (details.code !== 'invalidPath' && details.code !== 'noTarget')) throw error;
      await this.write('PATCH', path, activePatch(active, true), version);
    }
  }

  /**
   * Runs a write with the resource's version (read first when `read`), and on a 412 (the resource changed
   * between the read and the write) reads it again and runs the write once more.
   */
  private async withVersion(
    path: string,
    read: boolean,
    act: (version: string | undefined, resource: Resource | undefined) => Promise<unknown>,
  ): Promise<void> {
    const current = async () => {
      if (!read) return { version: undefined, resource: undefined };
      const answer = await this.call('GET', path);
      return { version: versionOf(answer), resource: answer.json as Resource };
    };
    const first = await current();
    try {
      await act(first.version, first.resource);
    } catch (error) {
      if (statusOf(error) !== 412) throw error;
      const again = await current();
      await act(again.version, again.resource);
    }
  }

  async list(page: string | undefined): Promise<IdentityPage> {
    const startIndex = page === undefined ? 1 : Number(page);
    if (!Number.isSafeInteger(startIndex) || startIndex < 1)
      throw fatal('invalid_page', `not a page of this target: ${page}`);
    const count = this.config.page_size;
    const body = ((await this.call('GET', `/Users?startIndex=${startIndex}&count=${count}`)).json ?? {}) as Resource;
    const resources = Array.isArray(body.Resources) ? (body.Resources as Resource[]) : [];
    const served = typeof body.startIndex === 'number' ? body.startIndex : startIndex;
    const next = served + resources.length;
    const total = typeof body.totalResults === 'number' ? body.totalResults : undefined;
    const more = resources.length > 0 && (total === undefined ? resources.length >= count : next <= total);
    return { identities: resources.map(identityOf), next: more ? String(next) : undefined };
  }

  async health(): Promise<HealthReport> {
    const started = performance.now();
    try {
      await this.getCapabilities(true);
      await this.call('GET', '/Users?startIndex=1&count=1');
      return { ok: true, latency_ms: Math.round(performance.now() - started) };
    } catch (error) {
      if (!isTargetError(error)) throw error;
      return { ok: false, latency_ms: Math.round(performance.now() - started), error: error.details };
    }
  }

  async close(): Promise<void> {
    this.tokens.drop();
  }

  takeCalls(): CallRecord[] {
    return this.http.takeCalls();
  }
}

export const scim: ConnectorKind = {
  kind: 'scim',
  validate: validateScim,
  create(options: ConnectorOptions): Connector {
    const { config, credentials } = validateScim(options.config, options.credentials);
    return new ScimConnector(config, credentials, options.userAgent, options.timeoutMs);
  },
};
