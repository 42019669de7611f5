/**
 * Cold start: time from spawning `cordon serve` to the first 200 from /readyz, on a fresh data dir or
 * database (migrations; initdb for PGlite) and on an existing one. Prints JSON. Needs `npm run build`.
 *   npx tsx bench/startup.ts         (BENCH_BACKENDS=pglite,postgres, BENCH_RUNS=3)
 */
import path from 'node:path';
import { startServer, stopServer } from '../test/support/cli.js';
import { BENCH_BACKENDS, freshDatabase, round } from './support.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BIN = path.resolve('bin/cordon.js');

async function timeToReady(env: Record<string, string>): Promise<number> {
  const started = performance.now();
  const { child, url } = await startServer({ CORDON_LOG_LEVEL: 'warn', ...env }, undefined, [BIN]);
  for (;;) {
    const res = await fetch(`${url}/readyz`).catch(() => undefined);
    if (res?.status === 200) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const ms = performance.now() - started;
  await stopServer(child);
  return ms;
}

const results: Record<string, unknown> = {};
for (const backend of BENCH_BACKENDS) {
  const fresh: number[] = [];
  const existing: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const database = await freshDatabase(backend, `startup${run}`);
    // The default: the first start also seeds the demo account.
    fresh.push(await timeToReady(database.env));
    existing.push(await timeToReady(database.env));
    await database.drop();
  }
  results[backend] = {
    fresh_ms: fresh.map((n) => Math.round(n)),
    existing_ms: existing.map((n) => Math.round(n)),
    fresh_median_ms: round([...fresh].sort((a, b) => a - b)[Math.floor(RUNS / 2)]!, 0),
    existing_median_ms: round([...existing].sort((a, b) => a - b)[Math.floor(RUNS / 2)]!, 0),
  };
}
console.log(JSON.stringify({ bench: 'startup', node: process.version, results }, null, 2));
