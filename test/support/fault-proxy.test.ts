import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { seededRandom, startFaultProxy, type FaultProxy } from './fault-proxy.js';

/** A node:http origin that counts what it served and echoes the call. */
let origin: http.Server;
let originUrl: string;
const served: string[] = [];

beforeAll(async () => {
  origin = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      served.push(`${req.method} ${req.url}`);
      const text = JSON.stringify({ method: req.method, url: req.url, body, host: req.headers.host });
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'rid-1' });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => origin.close(() => resolve())));

let proxy: FaultProxy;
afterEach(async () => {
  await proxy?.close();
  served.length = 0;
});

/** One call through the proxy on a fresh connection: its status and body, or the network error's message. */
async function call(path: string, method = 'GET', body?: string) {
  try {
    const res = await fetch(`${proxy.url}${path}`, {
      method,
      ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
      // A fresh connection per call: a reset of one does not poison the next.
      keepalive: false,
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  } catch (error) {
    return { status: null, headers: undefined, body: { error: (error as Error).message } };
  }
}

describe('fault proxy', () => {
  it('passes calls through unchanged (method, path, query, body, headers) and counts them', async () => {
    proxy = await startFaultProxy(originUrl);
    const res = await call('/v1/users/u1:suspend?x=1', 'POST', '{"a":1}');
    expect(res.status).toBe(200);
    expect(res.headers!.get('x-request-id')).toBe('rid-1');
    expect(res.body).toEqual({
      method: 'POST',
      url: '/v1/users/u1:suspend?x=1',
      body: '{"a":1}',
      host: new URL(originUrl).host,
    });
    await call('/v1/users/u1');
    expect(proxy.calls).toEqual([
      { method: 'POST', path: '/v1/users/u1:suspend', fault: null, status: 200, forwarded: true },
      { method: 'GET', path: '/v1/users/u1', fault: null, status: 200, forwarded: true },
    ]);
    expect(proxy.counts((p) => p.replace(/u\d+/, '{id}'))).toEqual({
      'POST /v1/users/{id}:suspend': { seen: 1, forwarded: 1, faulted: 0 },
      'GET /v1/users/{id}': { seen: 1, forwarded: 1, faulted: 0 },
    });
  });

  it('answers 429 with Retry-After to one call in N of the matching ones, without forwarding them', async () => {
    proxy = await startFaultProxy(originUrl);
    proxy.setRules([{ kind: 'throttle', method: 'POST', path: /:suspend$/, every: 3, retryAfterSeconds: 7 }]);
    const statuses: Array<number | null> = [];
    for (let i = 0; i < 6; i++) statuses.push((await call(`/u${i}:suspend`, 'POST', '{}')).status);
    const other = await call('/u9', 'GET');
    expect(statuses).toEqual([200, 200, 429, 200, 200, 429]);
    expect(other.status).toBe(200);
    const throttled = await (async () => {
      proxy.setRules([{ kind: 'throttle', retryAfterSeconds: 7 }]);
      return call('/x');
    })();
    expect(throttled.headers!.get('retry-after')).toBe('7');
    expect(throttled.body).toEqual({ code: 429, message: 'slow down' });
    expect(served).toEqual(['POST /u0:suspend', 'POST /u1:suspend', 'POST /u3:suspend', 'POST /u4:suspend', 'GET /u9']);
    expect(proxy.counts()['POST /u2:suspend']).toEqual({ seen: 1, forwarded: 0, faulted: 1 });
  });

  it('faults a seeded fraction of calls: the same seed, the same calls', async () => {
    const run = async (seed: number) => {
      proxy = await startFaultProxy(originUrl, { seed });
      proxy.setRules([{ kind: 'error', status: 503, fraction: 0.3 }]);
      const out: Array<number | null> = [];
      for (let i = 0; i < 20; i++) out.push((await call(`/n${i}`)).status);
      await proxy.close();
      return out;
    };
    const first = await run(42);
    const again = await run(42);
    expect(again).toEqual(first);
    const random = seededRandom(42);
    expect(first).toEqual(Array.from({ length: 20 }, () => (random() < 0.3 ? 503 : 200)));
    expect(first).toContain(503);
    expect(first).toContain(200);
  });

  it('answers 500s a given number of times, then passes', async () => {
    proxy = await startFaultProxy(originUrl);
    proxy.setRules([{ kind: 'error', times: 2 }]);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await call('/a')).status);
    expect(statuses).toEqual([500, 500, 200, 200]);
    expect(served).toEqual(['GET /a', 'GET /a']);
  });

  it('resets before forwarding (the target never sees the call) and after (the target acted)', async () => {
    proxy = await startFaultProxy(originUrl);
    proxy.setRules([
      { kind: 'reset', path: '/before' },
      { kind: 'reset-after', path: '/after' },
    ]);
    const before = await call('/before', 'POST', '{}');
    const after = await call('/after', 'POST', '{}');
    expect(before.status).toBeNull();
    expect(after.status).toBeNull();
    expect(served).toEqual(['POST /after']);
    expect(proxy.calls.map((c) => [c.path, c.fault, c.forwarded, c.status])).toEqual([
      ['/before', 'reset', false, null],
      ['/after', 'reset-after', true, null],
    ]);
    proxy.clearRules();
    expect((await call('/before')).status).toBe(200);
  });

  it('delays the matching calls and still answers them', async () => {
    proxy = await startFaultProxy(originUrl);
    proxy.setRules([{ kind: 'delay', delayMs: 200, path: '/slow' }]);
    const [slow, fast] = await Promise.all([
      (async () => ({ res: await call('/slow'), at: served.length }))(),
      (async () => ({ res: await call('/fast'), at: served.length }))(),
    ]);
    expect([slow.res.status, fast.res.status]).toEqual([200, 200]);
    // The fast call was served while the slow one waited.
    expect(served).toEqual(['GET /fast', 'GET /slow']);
  });

  for (const mode of ['reset', 'refuse'] as const) {
    it(`takes the target away for a duration (${mode}), then brings it back on the same port`, async () => {
      proxy = await startFaultProxy(originUrl);
      const url = proxy.url;
      const gone = proxy.down(300, mode);
      expect(proxy.isDown).toBe(true);
      const during = await call('/during');
      expect(during.status).toBeNull();
      await gone;
      expect(proxy.isDown).toBe(false);
      expect(proxy.url).toBe(url);
      expect((await call('/after')).status).toBe(200);
      expect(served).toEqual(['GET /after']);
      // The call during the outage never reached the target (nor, its connection reset on arrival, the log).
      expect(proxy.calls.map((c) => c.path)).toEqual(['/after']);
      if (mode === 'reset') expect(proxy.connectionsResetWhileDown).toBeGreaterThanOrEqual(1);
    });
  }

  it('answers 502 when the target itself is unreachable', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    proxy = await startFaultProxy(`http://127.0.0.1:${port}`);
    const res = await call('/x');
    expect([res.status, res.body]).toEqual([502, { code: 502, message: 'target unreachable' }]);
  });
});
