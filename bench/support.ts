/** Shared bench plumbing: a fresh database per backend, timing helpers, JSON output. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createCore } from '../src/app.js';
import type { Core } from '../src/core.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';

export type Backend = 'pglite' | 'postgres';
export const BENCH_BACKENDS = (process.env.BENCH_BACKENDS ?? 'pglite,postgres').split(',') as Backend[];
const PG_SERVER = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';

export interface BenchDatabase {
  env: Record<string, string>;
  drop(): Promise<void>;
}

export async function freshDatabase(backend: Backend, name: string): Promise<BenchDatabase> {
  if (backend === 'pglite') {
    const dir = mkdtempSync(path.join(tmpdir(), `cordon-bench-${name}-`));
    return { env: { CORDON_DATA_DIR: dir }, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const db = `cordon_bench_${name}`;
  const admin = async (q: string) => {
    const client = new pg.Client({ connectionString: `${PG_SERVER}/postgres` });
    await client.connect();
    await client.query(q).finally(() => client.end());
  };
  await admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await admin(`CREATE DATABASE ${db}`);
  const kek = Buffer.alloc(32, 9).toString('base64url');
  // One issuer for every node (required with DATABASE_URL); servers a bench spawns issue and accept it alike.
  return {
    env: { DATABASE_URL: `${PG_SERVER}/${db}`, CORDON_KEY_ENCRYPTION_KEY: kek, CORDON_ISSUER: 'http://127.0.0.1:8080' },
    drop: () => admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`),
  };
}

export async function openCore(env: Record<string, string>): Promise<Core> {
  const { config } = loadConfig({ CORDON_DEMO: 'false', ...env });
  return createCore(config, { holder: 'bench', logger: createLogger('silent') });
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function summarize(latenciesMs: number[], seconds: number) {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  return {
    calls: sorted.length,
    per_second: Math.round(sorted.length / seconds),
    p50_ms: round(percentile(sorted, 50)),
    p99_ms: round(percentile(sorted, 99)),
  };
}

export const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * Runs `callers` loops of `fn` for `seconds`; returns each call's latency in ms. `between` runs after
 * each call, untimed (but within the wall time).
 */
export async function hammer(
  callers: number,
  seconds: number,
  fn: (caller: number, i: number) => Promise<unknown>,
  between?: (caller: number, i: number) => Promise<unknown> | undefined,
): Promise<number[]> {
  const latencies: number[] = [];
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: callers }, async (_, caller) => {
      for (let i = 0; performance.now() < until; i++) {
        const t = performance.now();
        await fn(caller, i);
        latencies.push(performance.now() - t);
        await between?.(caller, i);
      }
    }),
  );
  return latencies;
}

/** This process's resident set, in MB. */
export const rssMb = () => round(process.memoryUsage().rss / 2 ** 20, 0);

/** Another process's resident set in MB (Linux); null where /proc is missing. */
export function processRssMb(pid: number): number | null {
  try {
    return round(Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024, 0);
  } catch {
    return null;
  }
}

/** An app's access token from a running server (client_credentials, client_secret_basic). */
export async function fetchAppToken(serverUrl: string, clientId: string, secret: string): Promise<string> {
  const res = await fetch(`${serverUrl}/v1/oauth/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  return ((await res.json()) as { access_token: string }).access_token;
}
