/**
 * What the resource guard costs per request: a no-op route without the guard, with a Bearer token, and
 * with a DPoP-bound token and a fresh proof per request (jti stored, ath checked), on PostgreSQL,
 * alternating over rounds. Prints JSON with medians and the ratios to the unguarded route.
 *   npx tsx bench/guard.ts           (BENCH_SECONDS=5, BENCH_ROUNDS=3, BENCH_CONNECTIONS=10)
 */
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { exportJWK, generateKeyPair } from 'jose';
import type { CallContext } from '../src/audit/entry.js';
import { createAccount } from '../src/directory/accounts.js';
import { createApp } from '../src/oauth/apps.js';
import { accessTokenHash } from '../src/oauth/dpop.js';
import { freshDatabase, openCore, round } from './support.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const ctx: CallContext = { actor: { type: 'operator', id: 'bench' }, authz: { method: 'bench' } };
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

const database = await freshDatabase('postgres', 'guard');
const env = { ...database.env, CORDON_OAUTH_RATE_PER_CLIENT: '0', CORDON_OAUTH_RATE_PER_ADDRESS: '0' };
const setup = await openCore(env);
const { account } = await createAccount(setup.directory, ctx, {
  name: 'Bench',
  owner: { email: 'o@bench.example', display_name: 'O' },
});
const { app, clientSecret } = await createApp(setup.directory, ctx, account.id, {
  name: 'bench',
  permissions: ['users:list'],
});
await setup.close();

const child = spawn(process.execPath, ['--import', 'tsx', 'bench/guard-server.ts'], {
  env: { ...process.env, ...env },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise<string>((resolve) =>
  createInterface({ input: child.stdout }).on(
    'line',
    (line) => line.startsWith('serving on ') && resolve(line.slice(11)),
  ),
);

// One DPoP key for the run; proofs are signed synchronously per request.
const pair = await generateKeyPair('ES256', { extractable: true });
const jwk = await exportJWK(pair.publicKey);
const privateKey = createPrivateKey({ key: (await exportJWK(pair.privateKey)) as never, format: 'jwk' });
const proofFor = (htm: string, htu: string, extra: Record<string, unknown> = {}) => {
  const input =
    `${b64({ alg: 'ES256', typ: 'dpop+jwt', jwk })}.` +
    `${b64({ htm, htu, jti: randomBytes(12).toString('base64url'), iat: Math.floor(Date.now() / 1000), ...extra })}`;
  return (
    `${input}.` +
    `${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`
  );
};
const token = async (dpop: boolean) => {
  const res = await fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${app.client_id}:${clientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      ...(dpop ? { dpop: proofFor('POST', `${url}/oauth/token`) } : {}),
    },
    body: 'grant_type=client_credentials',
  });
  return ((await res.json()) as { access_token: string }).access_token;
};
const bearer = await token(false);
const bound = await token(true);
const path = `/v1/accounts/${account.id}/noop`;

async function hammer(kind: 'open' | 'bearer' | 'dpop') {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [
      {
        method: 'GET',
        path: kind === 'open' ? `${path}-open` : path,
        setupRequest: (req: { headers?: Record<string, string> }) => {
          if (kind === 'bearer') req.headers = { ...req.headers, authorization: `Bearer ${bearer}` };
          if (kind === 'dpop')
            req.headers = {
              ...req.headers,
              authorization: `DPoP ${bound}`,
              dpop: proofFor('GET', `${url}${path}`, { ath: accessTokenHash(bound) }),
            };
          return req;
        },
      },
    ],
  });
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${kind}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { per_second: Math.round(result.requests.average), p50_ms: result.latency.p50, p99_ms: result.latency.p99 };
}

const runs: Record<'open' | 'bearer' | 'dpop', Array<{ per_second: number; p50_ms: number; p99_ms: number }>> = {
  open: [],
  bearer: [],
  dpop: [],
};
try {
  for (let r = 0; r < ROUNDS; r++)
    for (const kind of ['open', 'bearer', 'dpop'] as const) runs[kind].push(await hammer(kind));
} finally {
  child.kill('SIGTERM');
  await new Promise((resolve) => child.on('exit', resolve));
  await database.drop();
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const summary = (kind: keyof typeof runs) => ({
  per_second: median(runs[kind].map((x) => x.per_second)),
  p50_ms: median(runs[kind].map((x) => x.p50_ms)),
  p99_ms: median(runs[kind].map((x) => x.p99_ms)),
});
const medians = { open: summary('open'), bearer: summary('bearer'), dpop: summary('dpop') };
console.log(
  JSON.stringify(
    {
      bench: 'guard',
      node: process.version,
      seconds_per_run: SECONDS,
      connections: CONNECTIONS,
      runs,
      medians,
      bearer_to_open: round(medians.bearer.per_second / medians.open.per_second),
      dpop_to_open: round(medians.dpop.per_second / medians.open.per_second),
    },
    null,
    2,
  ),
);
