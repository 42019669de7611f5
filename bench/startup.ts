/**
 * Cold start: time from spawning `cordon serve` to the first 200 from /healthz.
 *
 * Embedded (PGlite), alternating within each run so that the machine's load falls on all alike:
 *   - Cordon's first start on a fresh data dir (the default: it starts as the build's migrated template
 *     and seeds the demo account),
 *   - a bare PGlite initdb: a Node process doing `PGlite.create(freshDir)` and closing it,
 *   - a later start of the data dir the first start made.
 * With BENCH_NO_TEMPLATE=1 a fourth column: the first start without the template (initdb and every
 * migration, as before the template existed), by hiding the template's record for that start.
 * PostgreSQL: first start on an empty database, and a later start. Prints JSON with medians and, for
 * PGlite, the ratio of Cordon's first start to the bare initdb. Needs `npm run build`.
 *   npx tsx bench/startup.ts         (BENCH_BACKENDS=pglite,postgres, BENCH_RUNS=3)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TEMPLATE_DIR } from '../src/storage/pglite-template.js';
import { startServer, stopServer } from '../test/support/cli.js';
import { BENCH_BACKENDS, freshDatabase, round } from './support.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BIN = path.resolve('bin/cordon.js');
const NO_TEMPLATE = process.env.BENCH_NO_TEMPLATE === '1';

async function timeToHealthy(env: Record<string, string>): Promise<{ ms: number; line: string }> {
  const started = performance.now();
  const { child, url, output } = await startServer({ CORDON_LOG_LEVEL: 'warn', ...env }, undefined, [BIN]);
  for (;;) {
    const res = await fetch(`${url}/healthz`).catch(() => undefined);
    if (res?.status === 200) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const ms = performance.now() - started;
  await stopServer(child);
  return { ms, line: output.find((l) => l.includes('serving on')) ?? '' };
}

/** A bare PGlite initdb into a fresh directory, in its own Node process (as Cordon's start is). */
function timeInitdb(): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cordon-bench-initdb-'));
  const script =
    `const { PGlite } = await import('@electric-sql/pglite'); const db = await PGlite.create(` +
    `${JSON.stringify(dir)}); await db.close();`;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => {
      rmSync(dir, { recursive: true, force: true });
      if (code === 0) resolve(performance.now() - started);
      else reject(new Error(`PGlite initdb exited ${code}`));
    });
  });
}

/** Runs `fn` with the template's record hidden, so that the start cannot use it. */
async function withoutTemplate<T>(fn: () => Promise<T>): Promise<T> {
  const meta = `${TEMPLATE_DIR}.json`;
  const hidden = `${meta}.hidden-by-bench`;
  renameSync(meta, hidden);
  try {
    return await fn();
  } finally {
    renameSync(hidden, meta);
  }
}

const median = (values: number[]) => round([...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!, 0);
const results: Record<string, unknown> = {};
for (const backend of BENCH_BACKENDS) {
  const first: number[] = [];
  const later: number[] = [];
  const initdb: number[] = [];
  const untemplated: number[] = [];
  const lines: string[] = [];
  for (let run = 0; run < RUNS; run++) {
    const database = await freshDatabase(backend, `startup${run}`);
    const start = await timeToHealthy(database.env);
    first.push(start.ms);
    lines.push(start.line);
    later.push((await timeToHealthy(database.env)).ms);
    await database.drop();
    if (backend === 'pglite') {
      initdb.push(await timeInitdb());
      if (NO_TEMPLATE && existsSync(`${TEMPLATE_DIR}.json`)) {
        const bare = await freshDatabase(backend, `startup-untemplated${run}`);
        untemplated.push((await withoutTemplate(() => timeToHealthy(bare.env))).ms);
        await bare.drop();
      }
    }
  }
  results[backend] = {
    first_start_ms: first.map(Math.round),
    later_start_ms: later.map(Math.round),
    first_start_median_ms: median(first),
    later_start_median_ms: median(later),
    ...(backend === 'pglite'
      ? {
          template: existsSync(`${TEMPLATE_DIR}.json`),
          bare_pglite_initdb_ms: initdb.map(Math.round),
          bare_pglite_initdb_median_ms: median(initdb),
          first_start_over_initdb: round(median(first) / median(initdb), 2),
          ...(untemplated.length > 0
            ? {
                first_start_without_template_ms: untemplated.map(Math.round),
                first_start_without_template_median_ms: median(untemplated),
              }
            : {}),
        }
      : {}),
    first_start_breakdown: lines,
  };
}
console.log(JSON.stringify({ bench: 'startup', node: process.version, runs: RUNS, results }, null, 2));
