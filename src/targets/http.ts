/**
 * Outbound HTTP to targets: the one place Cordon calls other systems. Each request has a timeout, sends
 * `User-Agent: Cordon/<version>`, and is recorded as a CallRecord (method, path, status, latency, the
 * target's request id) for the attempt's audit entry. Failures become TargetErrors, classified by
 * `classify` (connector.ts has the table); a kind refines the classes where its wire contract says more
 * (1Password's 403 is a protected user).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { TargetError, type CallRecord, type TargetErrorClass, type TargetErrorDetails } from './connector.js';

export interface HttpAnswer {
  status: number;
  headers: Headers;
  /** The body parsed as JSON, or undefined when it is empty or not JSON. */
  json: unknown;
  text: string;
  /** The target's request id (x-request-id and the like), for the attempt's audit entry. */
  requestId: string | null;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** An object is sent as JSON (with the content type given in headers, or application/json); a string as is. */
  body?: unknown;
  /** Answers that are not errors for this request (default: 2xx). */
  accept?: (status: number) => boolean;
}

/**
 * The call log of the attempt in progress: a connector serves many attempts at once (one per step on its
 * target), so each attempt collects its own exchanges here instead of from the connector's shared list.
 */
const attemptCalls = new AsyncLocalStorage<CallRecord[]>();

/** Runs `fn`, appending to `calls` every exchange any TargetHttp makes within it (and only those). */
export function collectCalls<T>(calls: CallRecord[], fn: () => Promise<T>): Promise<T> {
  return attemptCalls.run(calls, fn);
}

/**
 * Runs `fn` keeping none of its exchanges: a connector outlives its callers (the cache), so calls nobody
 * records (sync pages, health checks) must not pile up in its own list.
 */
export function unrecorded<T>(fn: () => Promise<T>): Promise<T> {
  return collectCalls([], fn);
}

/** Where an exchange is recorded: the attempt's log when one is collecting, else the caller's own list. */
export function callLogFor(own: CallRecord[]): CallRecord[] {
  return attemptCalls.getStore() ?? own;
}

const REQUEST_ID_HEADERS = ['x-request-id', 'request-id', 'x-amzn-requestid', 'x-correlation-id'];
const MESSAGE_MAX = 500;

export class TargetHttp {
  private calls: CallRecord[] = [];

  constructor(
    private readonly baseUrl: string,
    private readonly userAgent: string,
    private readonly timeoutMs = 10_000,
  ) {}

  /** `path` is joined to the base URL (it may hold a query); an absolute URL is used as is. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<HttpAnswer> {
    const url = /^https?:\/\//.test(path) ? path : this.baseUrl + path;
    const headers: Record<string, string> = { 'user-agent': this.userAgent, accept: 'application/json' };
    let body: string | undefined;
    if (typeof options.body === 'string') body = options.body;
    else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    Object.assign(headers, options.headers);
    const started = performance.now();
    const parsed = new URL(url);
    const record: CallRecord = {
      method,
      path: parsed.pathname + parsed.search,
      status: null,
      latency_ms: 0,
      request_id: null,
    };
    callLogFor(this.calls).push(record);
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method,
        headers,
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'manual',
      });
      text = await response.text();
    } catch (error) {
      record.latency_ms = Math.round(performance.now() - started);
      throw networkError(error);
    }
    record.latency_ms = Math.round(performance.now() - started);
    record.status = response.status;
    record.request_id = requestIdOf(response.headers);
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    const answer = { status: response.status, headers: response.headers, json, text, requestId: record.request_id };
    const ok = options.accept ?? ((s: number) => s >= 200 && s < 300);
    if (!ok(response.status)) throw httpError(answer, record.request_id);
    return answer;
  }

  /** The exchanges made outside collectCalls since the last call, oldest first. */
  takeCalls(): CallRecord[] {
    const calls = this.calls;
    this.calls = [];
    return calls;
  }
}

function requestIdOf(headers: Headers): string | null {
  for (const name of REQUEST_ID_HEADERS) {
    const value = headers.get(name);
    if (value) return value.slice(0, 200);
  }
  return null;
}

/** The class of an HTTP error status, before a kind refines it. */
export function classify(status: number): TargetErrorClass {
  if (status === 401) return 'auth';
  if (status === 404) return 'gone';
  if (status === 408 || status === 425 || status === 429 || status >= 500) return 'retry';
  return 'fatal';
}

/**
 * An error answer as a TargetError: the target's own code and message from a 1Password (google.rpc.Status
 * `{code, message}`), SCIM (`{scimType, detail, status}`) or OAuth (`{error, error_description}`) body.
 */
export function httpError(answer: HttpAnswer, requestId: string | null, cls?: TargetErrorClass): TargetError {
  const body = (answer.json && typeof answer.json === 'object' ? answer.json : {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);
  const code = str(body.scimType) ?? str(body.error) ?? str(body.code) ?? null;
  const message = (str(body.detail) ?? str(body.error_description) ?? str(body.message) ?? answer.text).slice(
    0,
    MESSAGE_MAX,
  );
  const details: TargetErrorDetails = {
    class: cls ?? classify(answer.status),
    status: answer.status,
    code,
    message,
    request_id: requestId,
  };
  return new TargetError(details, retryAfterMs(answer));
}

/** Retry-After, in seconds or as an HTTP date, on a 429 or 503; capped at 10 minutes. */
export function retryAfterMs(answer: Pick<HttpAnswer, 'status' | 'headers'>): number | undefined {
  if (answer.status !== 429 && answer.status !== 503) return undefined;
  const value = answer.headers.get('retry-after');
  if (!value) return undefined;
  const ms = /^\d{1,9}$/.test(value.trim()) ? Number(value.trim()) * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), 600_000) : undefined;
}

function networkError(error: unknown): TargetError {
  // fetch fails with "fetch failed"; what happened is in its cause (or, for several addresses, their errors).
  const cause = (error as { cause?: { code?: string; message?: string; errors?: Array<{ code?: string }> } }).cause;
  const name = (error as Error).name;
  const code = name === 'TimeoutError' ? 'timeout' : (cause?.code ?? cause?.errors?.[0]?.code ?? name ?? 'network');
  const message = cause?.message || (error as Error).message || String(error);
  return new TargetError({
    class: 'retry',
    status: null,
    code,
    message: message.slice(0, MESSAGE_MAX),
    request_id: null,
  });
}
