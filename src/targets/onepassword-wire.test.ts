/**
 * The 1Password connector's exact requests and its error mapping, against a small node:http server
 * answering canned responses (what a real target cannot be made to answer on demand: 429 with
 * Retry-After, 5xx, resets, odd bodies). The behaviour against a real server is onepassword.test.ts.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { isTargetError, type Connector, type TargetError } from './connector.js';
import { onepassword } from './onepassword.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}
type Answer = { status: number; headers?: Record<string, string>; body?: unknown } | 'reset' | 'hang';

const ACCOUNT = 'XLQMR47VZPBKJHSGWNCYFDE3T9';
const USERS = `/v1/accounts/${ACCOUNT}/users`;
const USER = { id: 'IR7VJHJ36JHINBFAD7V2T5MP3E', email: 'wendy@example.com', display_name: 'Wendy', state: 'ACTIVE' };
const UA = 'Cordon/9.9.9';

let server: Server;
let base: string;
let seen: Seen[] = [];
let tokens = 0;
/** The answer for a request other than the token endpoint's (which issues t1, t2, … unless this answers it). */
let answer: (req: Seen) => Answer | undefined = () => undefined;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = {
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(s);
      const a =
        answer(s) ?? (s.url.endsWith('/token') ? { status: 200, body: { access_token: `t${++tokens}` } } : 'hang');
      if (a === 'reset') return req.socket.destroy();
      if (a === 'hang') return;
      const text = typeof a.body === 'string' ? a.body : a.body === undefined ? '' : JSON.stringify(a.body);
      res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers }).end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
afterEach(() => {
  vi.useRealTimers();
  seen = [];
  tokens = 0;
  answer = () => undefined;
});

const connect = (credentials = { client_id: 'id', client_secret: 'secret' }, extra: { timeoutMs?: number } = {}) =>
  onepassword.create({ config: { base_url: base, account_id: ACCOUNT }, credentials, userAgent: UA, ...extra });
async function rejection(promise: Promise<unknown>): Promise<TargetError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isTargetError(error)) throw new Error(`expected a TargetError, got ${String(error)}`);
  return error;
}
const rpc = (status: number, code: number, message: string, headers?: Record<string, string>): Answer => ({
  status,
  headers,
  body: { code, message, details: [] },
});
const lines = (c: Connector) => c.takeCalls().map((call) => `${call.status} ${call.method} ${call.path}`);

describe('1Password connector: the requests it sends', () => {
  it('asks a token with client_secret_basic (form-encoded halves) and scope=openid, with the User-Agent', async () => {
    const c = connect({ client_id: 'app:1', client_secret: 'se cret+/%' });
    answer = (r) => (r.url === USERS + '?max_page_size=1' ? { status: 200, body: { results: [USER] } } : undefined);
    expect(await c.health()).toEqual({ ok: true, latency_ms: expect.any(Number) });
    const [token, list] = seen;
    expect(token).toMatchObject({
      method: 'POST',
      url: '/v1/oauth/token',
      body: 'grant_type=client_credentials&scope=openid',
      headers: {
        authorization: `Basic ${Buffer.from('app%3A1:se+cret%2B%2F%25').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        'user-agent': UA,
      },
    });
    expect(list).toMatchObject({ method: 'GET', headers: { authorization: 'Bearer t1', 'user-agent': UA } });
  });

  it('posts :suspend and :reactivate with no body and no content type', async () => {
    const c = connect();
    answer = (r) => (r.method === 'POST' && r.url.includes(':') ? { status: 200, body: USER } : undefined);
    await c.suspend(USER.id);
    await c.reactivate(USER.id);
    const posts = seen.slice(1).map((r) => [r.url, r.body, r.headers['content-type'], r.headers['content-length']]);
    expect(posts).toEqual([
      [`${USERS}/${USER.id}:suspend`, '', undefined, '0'],
      [`${USERS}/${USER.id}:reactivate`, '', undefined, '0'],
    ]);
  });

  it('reads a page without `results` as empty, and an empty next_page_token as the last page', async () => {
    const c = connect();
    answer = (r) =>
      r.url.startsWith(USERS) ? { status: 200, body: r.url.includes('page_token') ? {} : page } : undefined;
    const page = { results: [USER, { ...USER, id: 'B', state: 'STATE_UNSPECIFIED' }], next_page_token: 'CAIQAg' };
    expect(await c.list(undefined)).toEqual({
      identities: [
        { external_id: USER.id, email: USER.email, user_name: null, display_name: 'Wendy', state: 'ACTIVE' },
        { external_id: 'B', email: USER.email, user_name: null, display_name: 'Wendy', state: 'UNKNOWN' },
      ],
      next: 'CAIQAg',
    });
    expect(await c.list('CAIQAg')).toEqual({ identities: [], next: undefined });
    answer = () => ({ status: 200, body: { results: [], next_page_token: '' } });
    expect(await c.list(undefined)).toEqual({ identities: [], next: undefined });
    expect(lines(c).slice(1, 3)).toEqual([
      `200 GET ${USERS}?max_page_size=1000`,
      `200 GET ${USERS}?max_page_size=1000&page_token=CAIQAg`,
    ]);
  });

  it('keeps a token until 60 s before expires_in, and 900 s when the answer has none', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-01T00:00:00Z'));
    answer = (r) => (r.url.startsWith(USERS) ? { status: 200, body: {} } : undefined);
    const c = connect();
    await c.health();
    vi.setSystemTime(new Date('2026-12-01T00:13:59Z')); // 839 s: still the first token
    await c.health();
    expect(tokens).toBe(1);
    vi.setSystemTime(new Date('2026-12-01T00:14:01Z')); // 841 s: within the last minute of 900
    await c.health();
    expect(tokens).toBe(2);
    answer = (r) =>
      r.url.endsWith('/token')
        ? { status: 200, body: { access_token: `short${++tokens}`, expires_in: 120 } }
        : { status: 200, body: {} };
    const short = connect();
    await short.health();
    vi.setSystemTime(new Date('2026-12-01T00:14:59Z'));
    await short.health();
    expect(tokens).toBe(3);
    vi.setSystemTime(new Date('2026-12-01T00:15:02Z'));
    await short.health();
    expect(tokens).toBe(4);
  });

  it('revokes the token on close at the version’s path, and ignores a failing revocation', async () => {
    answer = (r) =>
      r.url.endsWith('/revoke')
        ? { status: 500, body: 'down' }
        : r.url.startsWith('/v1beta1/accounts')
          ? { status: 200, body: {} }
          : undefined;
    const c = onepassword.create({
      config: { base_url: base, account_id: ACCOUNT, api_version: 'v1beta1' },
      credentials: { client_id: 'id', client_secret: 'secret' },
      userAgent: UA,
    });
    await c.health();
    await expect(c.close()).resolves.toBeUndefined();
    expect(seen.at(-1)).toMatchObject({
      method: 'POST',
      url: '/v1beta1/users/oauth2/revoke',
      body: 'token=t1&token_type_hint=access_token',
      headers: { authorization: `Basic ${Buffer.from('id:secret').toString('base64')}` },
    });
  });

  it('refuses an id that would name another path, without a call', async () => {
    const c = connect();
    for (const id of ['', '.', '..']) {
      const error = await rejection(c.read(id));
      expect([error.details.class, error.details.code]).toEqual(['fatal', 'invalid_id']);
    }
    expect(seen).toEqual([]);
  });
});

describe('1Password connector: mapping answers to error classes', () => {
  const details = (cls: string, status: number | null, code: string | null, message: string) => ({
    class: cls,
    status,
    code,
    message,
    request_id: null,
  });

  it('a second 401 after a new token is auth', async () => {
    answer = (r) => (r.url.startsWith(USERS) ? rpc(401, 16, 'unauthenticated') : undefined);
    const c = connect();
    const error = await rejection(c.read(USER.id));
    expect(error.details).toEqual(details('auth', 401, '16', 'unauthenticated'));
    const u = `${USERS}/${USER.id}`;
    expect(lines(c)).toEqual(['200 POST /v1/oauth/token', `401 GET ${u}`, '200 POST /v1/oauth/token', `401 GET ${u}`]);
  });

  it('429 and 503 are retry with Retry-After (seconds or an HTTP date); 5xx are retry', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-01T00:00:00Z'));
    const c = connect();
    answer = (r) => (r.url.startsWith(USERS) ? rpc(429, 8, 'rate limited', { 'retry-after': '7' }) : undefined);
    let error = await rejection(c.suspend(USER.id));
    expect([error.details, error.retryAfterMs]).toEqual([details('retry', 429, '8', 'rate limited'), 7000]);
    const at = 'Tue, 01 Dec 2026 00:00:30 GMT';
    answer = (r) => (r.url.startsWith(USERS) ? rpc(503, 14, 'unavailable', { 'retry-after': at }) : undefined);
    error = await rejection(c.list(undefined));
    expect([error.details, error.retryAfterMs]).toEqual([details('retry', 503, '14', 'unavailable'), 30_000]);
    answer = (r) => (r.url.startsWith(USERS) ? { status: 502, body: '<html>bad gateway</html>' } : undefined);
    error = await rejection(c.read(USER.id));
    expect([error.details, error.retryAfterMs]).toEqual([
      details('retry', 502, null, '<html>bad gateway</html>'),
      undefined,
    ]);
  });

  it('403 on :suspend/:reactivate is protected; 403/404 on the list and other 4xx are fatal', async () => {
    const c = connect();
    answer = (r) => (r.url.includes(':') ? rpc(403, 7, 'no_owner_remain') : undefined);
    expect((await rejection(c.suspend(USER.id))).details).toEqual(details('protected', 403, '7', 'no_owner_remain'));
    expect((await rejection(c.reactivate(USER.id))).details).toEqual(details('protected', 403, '7', 'no_owner_remain'));
    answer = (r) => (r.url.startsWith(USERS + '?') ? rpc(404, 5, 'account not found') : undefined);
    expect((await c.health()).error).toEqual(details('fatal', 404, '5', 'account not found'));
    answer = (r) => (r.url.startsWith(USERS + '?') ? rpc(403, 7, 'permission denied') : undefined);
    expect((await rejection(c.list(undefined))).details).toEqual(details('fatal', 403, '7', 'permission denied'));
    answer = (r) => (r.url.startsWith(USERS) ? rpc(400, 3, 'invalid argument') : undefined);
    expect((await rejection(c.suspend(USER.id))).details).toEqual(details('fatal', 400, '3', 'invalid argument'));
  });

  it("classifies the token endpoint's answers: refusals are auth, 404 fatal, 5xx retry, no token fatal", async () => {
    const cases: [Answer, ReturnType<typeof details>][] = [
      [
        { status: 400, body: { error: 'invalid_client', error_description: 'bad client' } },
        details('auth', 400, 'invalid_client', 'bad client'),
      ],
      [{ status: 404, body: '' }, details('fatal', 404, null, '')],
      [
        { status: 500, body: { error: 'server_error' } },
        details('retry', 500, 'server_error', '{"error":"server_error"}'),
      ],
      [{ status: 200, body: { token_type: 'Bearer' } }, details('fatal', 200, 'invalid_response', expect.any(String))],
    ];
    for (const [tokenAnswer, expected] of cases) {
      answer = (r) => (r.url.endsWith('/token') ? tokenAnswer : { status: 200, body: {} });
      expect(await connect().health()).toEqual({ ok: false, latency_ms: expect.any(Number), error: expected });
    }
  });

  it('a malformed 200 is fatal invalid_response', async () => {
    const c = connect();
    answer = (r) => (r.url.startsWith(USERS) ? { status: 200, body: { results: { id: 'x' } } } : undefined);
    expect((await rejection(c.list(undefined))).details.code).toBe('invalid_response');
    answer = (r) => (r.url.startsWith(USERS) ? { status: 200, body: { email: 'no id' } } : undefined);
    expect((await rejection(c.read(USER.id))).details.code).toBe('invalid_response');
  });

  it('a reset, a refused connection and a timeout are retry with no status', async () => {
    answer = (r) => (r.url.startsWith(USERS) ? 'reset' : undefined);
    const reset = await rejection(connect().read(USER.id));
    expect([reset.details.class, reset.details.status, reset.details.code]).toEqual([
      'retry',
      null,
      expect.stringMatching(/^(UND_ERR_SOCKET|ECONNRESET)$/),
    ]);
    answer = (r) => (r.url.startsWith(USERS) ? 'hang' : undefined);
    const slow = await rejection(connect(undefined, { timeoutMs: 200 }).read(USER.id));
    expect([slow.details.class, slow.details.status, slow.details.code]).toEqual(['retry', null, 'timeout']);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as { port: number };
    await new Promise((resolve) => closed.close(resolve));
    const nowhere = onepassword.create({
      config: { base_url: `http://127.0.0.1:${port}`, account_id: ACCOUNT },
      credentials: { client_id: 'id', client_secret: 'secret' },
      userAgent: UA,
    });
    const refused = (await nowhere.health()).error!;
    expect([refused.class, refused.status, refused.code]).toEqual(['retry', null, 'ECONNREFUSED']);
  });
});
