/**
 * client_credentials tokens per second with client_secret_basic: Cordon (on PostgreSQL, recording
 * every token durably) against oidc-provider (ES256 JWTs, records nothing), in the same run,
 * alternating A B A B, each server in its own process. Prints JSON with medians and the ratio.
 * Needs `npm run build` first (npm run bench does it).
 *   npx tsx bench/tokens.ts          (BENCH_SECONDS=5, BENCH_ROUNDS=3, BENCH_CONNECTIONS=10)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { startServer, stopServer } from '../test/support/cli.js';
import { freshDatabase, round } from './support.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const BIN = path.resolve('bin/cordon.js');
const OIDC_PORT = 18_555;

function cordon(args: string[], env: Record<string, string>): string {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    env: { ...process.env, CORDON_LOG_LEVEL: 'warn', ...env },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`cordon ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

async function startOidcProvider(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['bench/oidc-provider-server.mjs', String(OIDC_PORT)], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  await new Promise<void>((resolve) =>
    createInterface({ input: child.stdout }).on('line', (line) => line === 'listening' && resolve()),
  );
  return child;
}

async function hammer(url: string, clientId: string, secret: string) {
  const result = await autocannon({
    url,
    method: 'POST',
    connections: CONNECTIONS,
    duration: SECONDS,
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials&scope=users%3Alist',
  });
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { per_second: Math.round(result.requests.average), p50_ms: result.latency.p50, p99_ms: result.latency.p99 };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const database = await freshDatabase('postgres', 'tokens');
// Rate limits off: the bench is one client from one address.
const env = {
  ...database.env,
  CORDON_DEMO: 'false',
  CORDON_OAUTH_RATE_PER_CLIENT: '0',
  CORDON_OAUTH_RATE_PER_ADDRESS: '0',
};
const init = JSON.parse(cordon(['init', '--name', 'Bench', '--owner-email', 'owner@bench.example', '--json'], env)) as {
  account_id: string;
};
const app = JSON.parse(
  cordon(
    ['apps', 'create', '--name', 'bench', '--permissions', 'users:list', '--account', init.account_id, '--json'],
    env,
  ),
) as { client_id: string; client_secret: string };
const server = await startServer({ CORDON_LOG_LEVEL: 'warn', ...env }, undefined, [BIN]);
const oidc = await startOidcProvider();

const runs: Record<'cordon' | 'oidc_provider', Array<{ per_second: number; p50_ms: number; p99_ms: number }>> = {
  cordon: [],
  oidc_provider: [],
};
try {
  for (let r = 0; r < ROUNDS; r++) {
    runs.cordon.push(await hammer(`${server.url}/v1/oauth/token`, app.client_id, app.client_secret));
    runs.oidc_provider.push(
      await hammer(`http://127.0.0.1:${OIDC_PORT}/token`, 'bench', 'bench-secret-bench-secret-bench-secret-1234'),
    );
  }
} finally {
  await stopServer(server.child);
  oidc.kill('SIGTERM');
  await database.drop();
}

const summary = (xs: typeof runs.cordon) => ({
  per_second: median(xs.map((x) => x.per_second)),
  p50_ms: median(xs.map((x) => x.p50_ms)),
  p99_ms: median(xs.map((x) => x.p99_ms)),
});
const cordonMedian = summary(runs.cordon);
const oidcMedian = summary(runs.oidc_provider);
console.log(
  JSON.stringify(
    {
      bench: 'tokens',
      node: process.version,
      seconds_per_run: SECONDS,
      connections: CONNECTIONS,
      order: 'cordon, oidc-provider, alternating',
      runs,
      medians: { cordon: cordonMedian, oidc_provider: oidcMedian },
      ratio_cordon_to_oidc_provider: round(cordonMedian.per_second / oidcMedian.per_second),
    },
    null,
    2,
  ),
);
