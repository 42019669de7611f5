/**
 * A real HTTP reverse proxy (node:http) between Cordon and a target, programmable while it runs: it
 * answers 429 with Retry-After or 5xx instead of the target, resets the connection before or after the
 * target acted, delays answers, or takes the target away for a while (every connection reset, or the
 * port closed so that connecting is refused). Rules pick their calls by method and path, one call in N
 * or a fraction drawn from a seeded RNG (the same seed, the same faults). Everything that reached the
 * proxy is logged: per call its method, path, the fault it got (or none) and the status the client saw.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultKind =
  /** answer `status` (default 429) with `Retry-After: retryAfterSeconds` (default 1) without forwarding */
  | 'throttle'
  /** answer `status` (default 500) with a JSON error body, without forwarding */
  | 'error'
  /** destroy the client's socket before forwarding: the target never sees the call */
  | 'reset'
  /** forward, let the target act, then destroy the client's socket instead of answering */
  | 'reset-after'
  /** forward after `delayMs` (default 1000), then answer normally */
  | 'delay';

export interface FaultRule {
  kind: FaultKind;
  /** Which calls the rule is about (default all): a method and a path (a string is a prefix). */
  method?: string;
  path?: string | RegExp;
  /** The `every`-th, 2×`every`-th… matching call faults. */
  every?: number;
  /** Each matching call faults with this probability (seeded RNG). Without every or fraction: every call. */
  fraction?: number;
  /** At most this many faults from the rule. */
  times?: number;
  status?: number;
  retryAfterSeconds?: number;
  delayMs?: number;
}

export interface ProxiedCall {
  method: string;
  /** The path without its query. */
  path: string;
  fault: FaultKind | 'down' | null;
  /** The status the client received (null: its connection was reset). */
  status: number | null;
  /** Whether the call reached the target. */
  forwarded: boolean;
}

export interface FaultProxy {
  /** The proxy's base URL (`http://127.0.0.1:PORT`), to give Cordon in place of the target's. */
  readonly url: string;
  /** Replaces the rules (first match wins; counters start over). */
  setRules(rules: FaultRule[]): void;
  clearRules(): void;
  /**
   * Takes the target away for `ms`: `reset` destroys every connection at once (the default), `refuse`
   * closes the port so that connecting fails. Resolves when the target is back.
   */
  down(ms: number, mode?: 'reset' | 'refuse'): Promise<void>;
  readonly isDown: boolean;
  /** Connections destroyed on arrival while the target was down (their calls were never read). */
  readonly connectionsResetWhileDown: number;
  /** Every call so far, oldest first. */
  readonly calls: readonly ProxiedCall[];
  /** Counts per `METHOD path` (query dropped): calls seen, forwarded and faulted. */
  counts(normalise?: (path: string) => string): Record<string, { seen: number; forwarded: number; faulted: number }>;
  resetLog(): void;
  close(): Promise<void>;
}

/** mulberry32: a small, seeded PRNG in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface LiveRule {
  rule: FaultRule;
  matched: number;
  faulted: number;
}

const matches = (rule: FaultRule, method: string, path: string) =>
  (!rule.method || rule.method.toUpperCase() === method) &&
  (rule.path === undefined || (typeof rule.path === 'string' ? path.startsWith(rule.path) : rule.path.test(path)));

/** Starts a proxy in front of `target` (a base URL: scheme, host and port) on a free loopback port. */
export async function startFaultProxy(target: string, options: { seed?: number } = {}): Promise<FaultProxy> {
  const origin = new URL(target);
  const random = seededRandom(options.seed ?? 1);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const sockets = new Set<Socket>();
  const calls: ProxiedCall[] = [];
  let rules: LiveRule[] = [];
  let downUntil = 0;
  let port = 0;
  let resetWhileDown = 0;

  const pick = (method: string, path: string): FaultRule | undefined => {
    for (const live of rules) {
      if (!matches(live.rule, method, path)) continue;
      live.matched++;
      if (live.rule.times !== undefined && live.faulted >= live.rule.times) return undefined;
      const { every, fraction } = live.rule;
      const hit =
        every !== undefined ? live.matched % every === 0 : fraction !== undefined ? random() < fraction : true;
      if (!hit) return undefined;
      live.faulted++;
      return live.rule;
    }
    return undefined;
  };

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0]!;
    const call: ProxiedCall = { method, path, fault: null, status: null, forwarded: false };
    calls.push(call);
    if (Date.now() < downUntil) {
      call.fault = 'down';
      req.socket.destroy();
      return;
    }
    const rule = pick(method, path);
    call.fault = rule?.kind ?? null;
    const answer = (status: number, headers: Record<string, string>, body: unknown) => {
      call.status = status;
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        ...headers,
      });
      res.end(text);
    };
    if (rule?.kind === 'throttle') {
      req.resume();
      const status = rule.status ?? 429;
      answer(status, { 'retry-after': String(rule.retryAfterSeconds ?? 1) }, { code: status, message: 'slow down' });
      return;
    }
    if (rule?.kind === 'error') {
      req.resume();
      const status = rule.status ?? 500;
      answer(status, {}, { code: status, message: 'injected failure' });
      return;
    }
    if (rule?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    const forward = () => {
      const upstream = http.request(
        {
          host: origin.hostname,
          port: origin.port,
          method,
          path: req.url,
          agent,
          headers: { ...req.headers, host: origin.host },
        },
        (answered) => {
          call.forwarded = true;
          if (rule?.kind === 'reset-after') {
            // The target acted; the client never learns how.
            answered.resume();
            answered.on('end', () => req.socket.destroy());
            return;
          }
          call.status = answered.statusCode ?? 502;
          res.writeHead(call.status, answered.headers);
          answered.pipe(res);
        },
      );
      upstream.on('error', () => {
        // The target itself is unreachable: the client sees a 502, as from a real gateway.
        if (!res.headersSent) answer(502, {}, { code: 502, message: 'target unreachable' });
        else req.socket.destroy();
      });
      req.pipe(upstream);
    };
    if (rule?.kind === 'delay') setTimeout(forward, rule.delayMs ?? 1000);
    else forward();
  });
  server.keepAliveTimeout = 5_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (Date.now() < downUntil) {
      resetWhileDown++;
      socket.destroy();
    }
  });
  // A reset mid-request surfaces here as well; the proxy keeps serving.
  server.on('clientError', (_error, socket) => socket.destroy());

  const listen = (on: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(on, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const stopListening = () => new Promise<void>((resolve) => server.close(() => resolve()));
  port = await listen(0);

  return {
    url: `http://127.0.0.1:${port}`,
    setRules(next) {
      rules = next.map((rule) => ({ rule, matched: 0, faulted: 0 }));
    },
    clearRules() {
      rules = [];
    },
    get isDown() {
      return Date.now() < downUntil;
    },
    async down(ms, mode = 'reset') {
      downUntil = Date.now() + ms;
      for (const socket of sockets) socket.destroy();
      if (mode === 'refuse') {
        const closed = stopListening();
        for (const socket of sockets) socket.destroy();
        await closed;
        await new Promise((resolve) => setTimeout(resolve, ms));
        downUntil = 0;
        await listen(port);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, ms));
      downUntil = 0;
    },
    get connectionsResetWhileDown() {
      return resetWhileDown;
    },
    get calls() {
      return calls;
    },
    counts(normalise = (p) => p) {
      const out: Record<string, { seen: number; forwarded: number; faulted: number }> = {};
      for (const c of calls) {
        const key = `${c.method} ${normalise(c.path)}`;
        const entry = (out[key] ??= { seen: 0, forwarded: 0, faulted: 0 });
        entry.seen++;
        if (c.forwarded) entry.forwarded++;
        if (c.fault !== null && c.fault !== 'delay') entry.faulted++;
      }
      return out;
    },
    resetLog() {
      calls.length = 0;
    },
    async close() {
      downUntil = 0;
      const closed = server.listening ? stopListening() : Promise.resolve();
      for (const socket of sockets) socket.destroy();
      await closed;
      agent.destroy();
    },
  };
}
