/**
 * Bulk import of 100,000 users through `cordon users import` (the CLI, end to end), then the idle RSS of
 * `cordon serve` holding that directory. Prints JSON. Needs `npm run build` first (npm run bench does it).
 *   npx tsx bench/import.ts          (BENCH_BACKENDS=pglite,postgres, BENCH_USERS=100000)
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, stopServer } from '../test/support/cli.js';
import { BENCH_BACKENDS, freshDatabase, round } from './support.js';

const USERS = Number(process.env.BENCH_USERS ?? 100_000);
const BIN = path.resolve('bin/cordon.js');
const GROUPS = ['Engineering', 'Finance', 'Sales', 'Support', 'Security Operations', 'Contractors'];

const file = path.join(tmpdir(), `cordon-bench-${USERS}.jsonl`);
writeFileSync(
  file,
  Array.from({ length: USERS }, (_, i) =>
    JSON.stringify({
      email: `user${i}@bench.example`,
      display_name: `User ${i}`,
      role: i % 50 === 0 ? 'ADMIN' : 'MEMBER',
      groups: [GROUPS[i % GROUPS.length]],
    }),
  ).join('\n') + '\n',
);

function cordon(args: string[], env: Record<string, string>) {
  const started = performance.now();
  const result = spawnSync(process.execPath, [BIN, ...args], {
    env: { ...process.env, CORDON_LOG_LEVEL: 'warn', ...env },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (result.status !== 0) throw new Error(`cordon ${args.join(' ')} failed: ${result.stderr}`);
  return { stdout: result.stdout, seconds: (performance.now() - started) / 1000 };
}

/** Starts the server, waits for /readyz, lets it settle, and reads its resident set size. */
async function idleRss(env: Record<string, string>): Promise<number> {
  const { child, url } = await startServer({ CORDON_LOG_LEVEL: 'warn', ...env }, undefined, [BIN]);
  await fetch(`${url}/readyz`);
  await new Promise((r) => setTimeout(r, 5000));
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]);
  await stopServer(child);
  return kb / 1024;
}

const results: Record<string, unknown> = {};
for (const backend of BENCH_BACKENDS) {
  const database = await freshDatabase(backend, 'import');
  const env = { ...database.env, CORDON_DEMO: 'false' };
  const init = JSON.parse(
    cordon(['init', '--name', 'Bench', '--owner-email', 'owner@bench.example', '--json'], env).stdout,
  ) as { account_id: string };
  const run = cordon(['users', 'import', file, '--account', init.account_id, '--json'], env);
  const reported = JSON.parse(run.stdout) as { imported: number; seconds: number };
  results[backend] = {
    users: reported.imported,
    import_seconds_in_transaction: round(reported.seconds),
    import_seconds_cli_end_to_end: round(run.seconds),
    users_per_second: Math.round(reported.imported / reported.seconds),
    serve_idle_rss_mb: round(await idleRss(env), 1),
  };
  await database.drop();
}
rmSync(file, { force: true });
console.log(JSON.stringify({ bench: 'import', node: process.version, results }, null, 2));
