/**
 * Leak report → containment (issue 19, "Figures"), over loopback HTTP against an in-process core and
 * server, one request at a time per figure. Prints JSON:
 * - report_to_last_refusal: an OAuth app (client_secret_basic, users:read) holds K access tokens from
 *   POST /v1/oauth/token (untimed); from the start of a signed POST /v1/secret-scanning/reports holding its
 *   client secret to the last of its tokens answered 401 by the Users API (GET …/users/{id}), each round
 *   checking every token still accepted, at once. A fresh app per sample: the report rotates the secret.
 *   An iteration whose tokens still work BENCH_TIMEOUT_MS after the report fails the bench.
 * - floor_revoke_to_refusal, alternating with it sample by sample: RFC 7009 POST /v1/oauth/revoke of one
 *   token (the client authenticates, client_secret_basic) to that token's first 401 on the same read.
 * - ratio_p99 = p99(report) / p99(floor), target ≤ 2.
 * - report_sizes: reports of 1, 100 and 10,000 tokens, BENCH_SIZE_RUNS runs each: the report's round trip
 *   (its containment commits before the answer) and the time per token. Up to BENCH_LIVE_MAX tokens are live
 *   client secrets of apps made in process (createApp), each app holding one access token; the rest are
 *   well-formed client secrets never issued (makeSecret). Every live app's token is checked refused after.
 *   npx tsx bench/leaks.ts
 * Knobs: BENCH_BACKENDS=postgres (or pglite, or both); BENCH_SAMPLES=50; BENCH_WARMUP=5; BENCH_K=3;
 * BENCH_SIZES=1,100,10000; BENCH_SIZE_RUNS=3; BENCH_LIVE_MAX=100; BENCH_TIMEOUT_MS=5000.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CallContext } from '../src/audit/entry.js';
import { createAccount } from '../src/directory/accounts.js';
import { buildServer } from '../src/http/server.js';
import { createApp } from '../src/oauth/apps.js';
import { makeSecret } from '../src/secret-format.js';
import { keySetDocument, makeCodeHostKey, match, signReport } from '../test/support/leak-reports.js';
import { type Backend, fetchAppToken, freshDatabase, openCore, percentile, round, rssMb } from './support.js';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 50);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 5);
const K = Number(process.env.BENCH_K ?? 3);
const SIZES = (process.env.BENCH_SIZES ?? '1,100,10000').split(',').map(Number);
const SIZE_RUNS = Number(process.env.BENCH_SIZE_RUNS ?? 3);
const LIVE_MAX = Number(process.env.BENCH_LIVE_MAX ?? 100);
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 5000);
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'postgres').split(',') as Backend[];
const TARGET_RATIO = 2;
const ctx: CallContext = { actor: { type: 'operator', id: 'bench' }, authz: { method: 'bench' } };

const stats = (latencies: number[]) => {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50_ms: round(percentile(sorted, 50)),
    p99_ms: round(percentile(sorted, 99)),
    mean_ms: round(sorted.reduce((s, x) => s + x, 0) / sorted.length),
    max_ms: round(sorted.at(-1) ?? NaN),
  };
};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const basic = (clientId: string, secret: string) => `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`;

async function run(backend: Backend) {
  const database = await freshDatabase(backend, 'leaks');
  const keyDir = mkdtempSync(path.join(tmpdir(), 'cordon-bench-leaks-'));
  const codeHost = makeCodeHostKey('bench-code-host');
  const keyFile = path.join(keyDir, 'keys.json');
  writeFileSync(keyFile, keySetDocument([codeHost]));
  const core = await openCore({
    ...database.env,
    CORDON_SECRET_SCANNING_KEYS: keyFile,
    CORDON_OAUTH_RATE_PER_CLIENT: '0',
    CORDON_OAUTH_RATE_PER_ADDRESS: '0',
    CORDON_UNAUTHENTICATED_RATE_PER_ADDRESS: '0',
    CORDON_BREAKER_MAX_ACTIONS: '10000',
  });
  const server = await buildServer(core);
  try {
    await server.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(server.server.address() as { port: number }).port}`;
    let accounts = 0;
    const newAccount = async () => {
      const n = accounts++;
      const made = await createAccount(core.directory, ctx, {
        name: `Bench ${n}`,
        owner: { email: `o${n}@bench.example`, display_name: 'O' },
      });
      return { id: made.account.id, readUrl: `${url}/v1beta1/accounts/${made.account.id}/users/${made.owner.id}` };
    };
    type Account = Awaited<ReturnType<typeof newAccount>>;
    let apps = 0;
    /** An app made in process, with `tokens` access tokens from the token endpoint (untimed). */
    const newApp = async (account: Account, tokens: number) => {
      const { app, clientSecret } = await createApp(core.directory, ctx, account.id, {
        name: `app ${apps++}`,
        permissions: ['users:read'],
      });
      const secret = clientSecret!;
      const issued: string[] = [];
      for (let i = 0; i < tokens; i++) {
        const token = await fetchAppToken(url, app.client_id, secret);
        if (typeof token !== 'string') throw new Error(`the token endpoint issued no token to ${app.client_id}`);
        issued.push(token);
      }
      return { clientId: app.client_id, secret, tokens: issued };
    };
    /** The Users API read with `token`: its status. */
    const read = async (account: Account, token: string) => {
      const res = await fetch(account.readUrl, { headers: { authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      if (res.status !== 200 && res.status !== 401) throw new Error(`users read answered ${res.status}`);
      return res.status;
    };
    const expectAccepted = async (account: Account, tokens: string[]) => {
      const statuses = await Promise.all(tokens.map((t) => read(account, t)));
      if (statuses.some((s) => s !== 200)) throw new Error(`a fresh token was refused: ${statuses.join(', ')}`);
    };
    /** Reads with every token still accepted, round after round, until each has been refused; ms since `start`. */
    const untilAllRefused = async (account: Account, tokens: string[], start: number, after: string) => {
      let pending = tokens;
      for (;;) {
        const statuses = await Promise.all(pending.map((t) => read(account, t)));
        pending = pending.filter((_, i) => statuses[i] !== 401);
        const ms = performance.now() - start;
        if (pending.length === 0) return ms;
        if (ms > TIMEOUT_MS)
          throw new Error(
            `tokens still accepted ${Math.round(ms)} ms after the ${after}: ${pending.length} of ${tokens.length}`,
          );
      }
    };
    /** A signed leak report of `secrets`; the number labelled true_positive. */
    const report = async (secrets: string[]) => {
      const body = JSON.stringify(secrets.map((s) => match(s, 'cordon_client_secret')));
      const res = await fetch(`${url}/v1/secret-scanning/reports`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'github-public-key-identifier': codeHost.id,
          'github-public-key-signature': signReport(codeHost, body),
        },
        body,
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`the report answered ${res.status}: ${text.slice(0, 1000)}`);
      return (JSON.parse(text) as Array<{ label: string }>).filter((l) => l.label === 'true_positive').length;
    };

    // (1) report → the last of K tokens refused, and (2) the floor: revoke one token → its first 401.
    const account = await newAccount();
    const floorApp = await newApp(account, 0);
    const leakSample = async () => {
      const app = await newApp(account, K);
      await expectAccepted(account, app.tokens);
      const start = performance.now();
      const live = await report([app.secret]);
      const answered = performance.now() - start;
      if (live !== 1) throw new Error(`the app's live client secret was labelled false_positive`);
      return { answered, refused: await untilAllRefused(account, app.tokens, start, 'report') };
    };
    const floorSample = async () => {
      const token = await fetchAppToken(url, floorApp.clientId, floorApp.secret);
      await expectAccepted(account, [token]);
      const start = performance.now();
      const res = await fetch(`${url}/v1/oauth/revoke`, {
        method: 'POST',
        headers: {
          authorization: basic(floorApp.clientId, floorApp.secret),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`revoke answered ${res.status}`);
      return untilAllRefused(account, [token], start, 'revocation');
    };
    console.error(`[${backend}] warm-up: ${WARMUP} rounds`);
    for (let i = 0; i < WARMUP; i++) {
      await leakSample();
      await floorSample();
    }
    console.error(`[${backend}] ${SAMPLES} samples each, alternating`);
    const refused: number[] = [];
    const answered: number[] = [];
    const floor: number[] = [];
    const sampling = performance.now();
    for (let i = 0; i < SAMPLES; i++) {
      const leak = await leakSample();
      refused.push(leak.refused);
      answered.push(leak.answered);
      floor.push(await floorSample());
      if ((i + 1) % 10 === 0) console.error(`[${backend}] ${i + 1}/${SAMPLES}`);
    }
    const samplingSeconds = round((performance.now() - sampling) / 1000);

    // (4) reports of each size: a fresh account per run, live secrets of fresh apps, the rest never issued.
    const sizes: Record<string, unknown> = {};
    for (const size of SIZES) {
      const live = Math.min(size, LIVE_MAX);
      const runs: number[] = [];
      for (let r = 0; r < SIZE_RUNS; r++) {
        const sized = await newAccount();
        console.error(`[${backend}] report of ${size} (${live} live), run ${r + 1}/${SIZE_RUNS}: seeding`);
        const liveApps = [];
        for (let i = 0; i < live; i++) liveApps.push(await newApp(sized, 1));
        const secrets = [
          ...liveApps.map((a) => a.secret),
          ...Array.from({ length: size - live }, () => makeSecret('cs')),
        ];
        // The live secrets spread through the report rather than first.
        for (let i = secrets.length - 1; i > 0; i--) {
          const j = Math.floor(Math.random() * (i + 1));
          [secrets[i], secrets[j]] = [secrets[j]!, secrets[i]!];
        }
        const start = performance.now();
        const labelled = await report(secrets);
        const ms = performance.now() - start;
        if (labelled !== live) throw new Error(`report of ${size}: ${labelled} true positives, expected ${live}`);
        runs.push(round(ms));
        const tokens = liveApps.map((a) => a.tokens[0]!);
        await untilAllRefused(sized, tokens, performance.now(), `report of ${size}`);
      }
      const ms = median(runs);
      sizes[String(size)] = {
        mix: { true_positives: live, never_issued: size - live },
        runs_ms: runs,
        median_ms: ms,
        per_token_ms: round(ms / size, 4),
      };
    }

    const report1 = stats(refused);
    const floorStats = stats(floor);
    const ratio = round(report1.p99_ms / floorStats.p99_ms);
    return {
      report_to_last_refusal: report1,
      report_answered: stats(answered),
      floor_revoke_to_refusal: floorStats,
      ratio_p50: round(report1.p50_ms / floorStats.p50_ms),
      ratio_p99: ratio,
      target_ratio_p99: TARGET_RATIO,
      target_met: ratio <= TARGET_RATIO,
      sampling_seconds: samplingSeconds,
      report_sizes: sizes,
      rss_mb: rssMb(),
    };
  } finally {
    await server.close();
    await core.close();
    rmSync(keyDir, { recursive: true, force: true });
    await database.drop();
  }
}

const started = performance.now();
const results: Record<string, Awaited<ReturnType<typeof run>>> = {};
for (const backend of BACKENDS) results[backend] = await run(backend);
console.log(
  JSON.stringify(
    {
      bench: 'leaks',
      node: process.version,
      samples: SAMPLES,
      warmup: WARMUP,
      tokens_per_app: K,
      order: 'report, revoke: alternating sample by sample',
      timeout_ms: TIMEOUT_MS,
      results,
      total_seconds: round((performance.now() - started) / 1000),
    },
    null,
    2,
  ),
);
