/**
 * Detection → containment latency, over loopback HTTP against `cordon serve` (run from source), on each
 * backend. Prints JSON:
 * - at_target_rate: signals sent at BENCH_RATE (200) a second for BENCH_SECONDS (10), evenly spaced
 *   (open loop: a latency counts from when its request was due), each about another user (with a live
 *   session to revoke) and matching an auto-mode suspend playbook; the answer comes after the
 *   transaction that stored the signal, suspended the user, revoked the session and committed every
 *   audit entry. p50/p99, and the server's per-step breakdown (Server-Timing, mean ms per step).
 * - ramp: first, the same at rising rates (BENCH_RAMP, 5 s each, the server left to drain between),
 *   until the p99 passes 100 ms; highest_rate_p99_under_100ms is the last rate that held.
 *   npx tsx bench/response.ts
 * Knobs: BENCH_BACKENDS=pglite,postgres; BENCH_RATE=200; BENCH_SECONDS=10; BENCH_RAMP=25,50,100,…
 */
import http from 'node:http';
import { sql } from 'kysely';
import type { CallContext } from '../src/audit/entry.js';
import { createAccount } from '../src/directory/accounts.js';
import { importUsers } from '../src/directory/import.js';
import { newId } from '../src/ids.js';
import { createApp } from '../src/oauth/apps.js';
import { setBreakerCap } from '../src/response/automation.js';
import { applyPlaybooks } from '../src/response/playbooks.js';
import { startServer, stopServer } from '../test/support/cli.js';
import { type Backend, BENCH_BACKENDS, fetchAppToken, freshDatabase, openCore, percentile, round } from './support.js';

const RATE = Number(process.env.BENCH_RATE ?? 200);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RAMP = (process.env.BENCH_RAMP ?? '25,50,100,150,200,300,400').split(',').map(Number);
const RAMP_SECONDS = 5;
const ctx: CallContext = { actor: { type: 'operator', id: 'bench' }, authz: { method: 'bench' } };
const users = RATE * SECONDS + RAMP.reduce((n, r) => n + r * RAMP_SECONDS, 0) + 1000;

async function run(backend: Backend) {
  const database = await freshDatabase(backend, 'response');
  const env = { ...database.env, CORDON_OAUTH_RATE_PER_CLIENT: '0', CORDON_OAUTH_RATE_PER_ADDRESS: '0' };
  try {
    const core = await openCore(env);
    const { account } = await createAccount(core.directory, ctx, {
      name: 'Bench',
      owner: { email: 'o@bench.example', display_name: 'O' },
    });
    await importUsers(core.directory, ctx, account.id, {
      rows: Array.from({ length: users }, (_, i) => ({
        line: i + 1,
        user: { email: `u${i}@bench.example`, display_name: `U${i}` },
      })),
      problems: [],
    });
    // A live session per user: each suspension has one to revoke.
    await sql`INSERT INTO sessions (account_id, id, user_id, kind, expires_at)
              SELECT account_id, md5(id), id, 'web', now() + interval '1 day' FROM users
                WHERE account_id = ${account.id} AND role = 'MEMBER'`.execute(core.database.db);
    await applyPlaybooks(core.response, ctx, account.id, [
      { name: 'contain', match: { types: ['bench.*'], min_severity: 'high' }, action: 'suspend', mode: 'auto' },
    ]);
    await setBreakerCap(core.response, ctx, account.id, { max_actions: 10_000, window_seconds: 1 });
    const { app, clientSecret } = await createApp(core.directory, ctx, account.id, {
      name: 'siem',
      permissions: ['signals:write'],
    });
    await core.audit.sequencer.drain();
    await sql`VACUUM ANALYZE`.execute(core.database.db);
    await core.close();

    const server = await startServer(env);
    try {
      const token = await fetchAppToken(server.url, app.client_id, clientSecret!);
      let nextUser = 0;

      /**
       * Sends `rate` signals a second for `seconds`, evenly spaced (open loop, over keep-alive
       * connections); each latency counts from when its request was due, so a backlog shows.
       */
      const paced = async (rate: number, seconds: number) => {
        const total = Math.round(rate * seconds);
        const latencies: number[] = [];
        const steps = new Map<string, number>();
        let failures = 0;
        const start = performance.now();
        await Promise.all(
          Array.from({ length: total }, async (_, i) => {
            const due = start + (i * 1000) / rate;
            const wait = due - performance.now();
            if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
            const body = JSON.stringify({
              external_id: newId(),
              type: 'bench.impossible_travel',
              severity: 'high',
              confidence: 0.9,
              subject: { email: `u${nextUser++}@bench.example` },
            });
            const res = await post(body);
            latencies.push(performance.now() - due);
            if (
              res.status !== 200 ||
              (JSON.parse(res.body) as { plan?: { status: string } }).plan?.status !== 'executed'
            ) {
              if (failures++ === 0) console.error(res.status, res.body.slice(0, 2000));
            }
            for (const part of res.timing.split(', ')) {
              const [name, dur] = part.split(';dur=');
              if (name && dur) steps.set(name, (steps.get(name) ?? 0) + Number(dur));
            }
          }),
        );
        const sorted = latencies.sort((a, b) => a - b);
        return {
          rate,
          signals: total,
          per_second: Math.round(total / ((performance.now() - start) / 1000)),
          failures,
          p50_ms: round(percentile(sorted, 50)),
          p99_ms: round(percentile(sorted, 99)),
          server_steps_mean_ms: Object.fromEntries([...steps].map(([name, sum]) => [name, round(sum / total, 3)])),
        };
      };
      const target = new URL(`${server.url}/v1/accounts/${account.id}/signals`);
      const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
      const post = (body: string) =>
        new Promise<{ status: number; body: string; timing: string }>((resolve, reject) => {
          const req = http.request(
            target,
            {
              method: 'POST',
              agent,
              headers: {
                authorization: `Bearer ${token}`,
                'content-type': 'application/json',
                'content-length': Buffer.byteLength(body),
              },
            },
            (res) => {
              let text = '';
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => (text += chunk));
              res.on('end', () =>
                resolve({
                  status: res.statusCode ?? 0,
                  body: text,
                  timing: String(res.headers['server-timing'] ?? ''),
                }),
              );
            },
          );
          req.on('error', reject);
          req.end(body);
        });

      // Each run starts on an idle server: the one before may have left a queue behind.
      const settle = () => new Promise((resolve) => setTimeout(resolve, 3000));
      await paced(20, 2); // warm-up
      await settle();
      const ramp = [];
      let highest = 0;
      for (const rate of RAMP) {
        const step = await paced(rate, RAMP_SECONDS);
        ramp.push({
          rate: step.rate,
          per_second: step.per_second,
          p50_ms: step.p50_ms,
          p99_ms: step.p99_ms,
          failures: step.failures,
          server_steps_mean_ms: step.server_steps_mean_ms,
        });
        await settle();
        if (step.p99_ms >= 100 || step.failures > 0) break;
        highest = rate;
      }
      const atTarget = await paced(RATE, SECONDS);
      return { users, at_target_rate: atTarget, ramp, highest_rate_p99_under_100ms: highest };
    } finally {
      await stopServer(server.child);
    }
  } finally {
    await database.drop();
  }
}

const started = performance.now();
const results: Record<string, unknown> = {};
for (const backend of BENCH_BACKENDS) results[backend] = await run(backend);
console.log(
  JSON.stringify(
    {
      bench: 'response',
      node: process.version,
      targets: { postgres_p50_ms: 5, postgres_p99_ms: 20, rate: RATE },
      results,
      total_seconds: round((performance.now() - started) / 1000),
    },
    null,
    2,
  ),
);
