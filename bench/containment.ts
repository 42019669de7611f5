/**
 * Approvals and restores over loopback HTTP against `cordon serve` (run from source), on each backend,
 * one request at a time. Prints JSON:
 * - approval_to_execution: `POST …/plans/{id}:approve` by an ADMIN session, the approval that completes
 *   a pending suspension plan (an approval-mode playbook, 1 approval) and so executes it: suspends the
 *   user, revokes their live session, opens the containment record and commits the audit entries, in
 *   one transaction. Each sample is about a fresh user, whose plan a signal (from an app holding
 *   signals:write) opened just before, untimed.
 * - restore: `POST …/containments/{id}:restore` with `{}` by an ADMIN session under the default restore
 *   policy (1 approval: the requester's own, so it executes at once): reactivates, voids stale plans,
 *   verifies and audits, in one transaction. Each sample is about a fresh user an auto-mode playbook
 *   suspended just before (untimed).
 * The two alternate, sample by sample, after BENCH_WARMUP (30) untimed rounds; n, p50/p99, mean and max
 * of each, the bench's and the server's RSS.
 *   npx tsx bench/containment.ts
 * Knobs: BENCH_BACKENDS=pglite,postgres; BENCH_SAMPLES=300; BENCH_WARMUP=30.
 */
import http from 'node:http';
import { sql } from 'kysely';
import type { CallContext } from '../src/audit/entry.js';
import { createAccount } from '../src/directory/accounts.js';
import { importUsers } from '../src/directory/import.js';
import { createUser } from '../src/directory/users.js';
import { newId } from '../src/ids.js';
import { createApp } from '../src/oauth/apps.js';
import { applyPlaybooks } from '../src/response/playbooks.js';
import { mintSessionToken } from '../test/support/fixtures.js';
import { startServer, stopServer } from '../test/support/cli.js';
import {
  type Backend,
  BENCH_BACKENDS,
  fetchAppToken,
  freshDatabase,
  openCore,
  percentile,
  processRssMb,
  round,
  rssMb,
} from './support.js';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 300);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 30);
const TARGET_P99_MS = 50;
const ctx: CallContext = { actor: { type: 'operator', id: 'bench' }, authz: { method: 'bench' } };
/** One user per sample and figure: each approval suspends a fresh one, each restore frees another. */
const users = 2 * (WARMUP + SAMPLES);

const stats = (latencies: number[]) => {
  const sorted = [...latencies].sort((a, b) => a - b);
  const p99 = round(percentile(sorted, 99));
  return {
    n: sorted.length,
    p50_ms: round(percentile(sorted, 50)),
    p99_ms: p99,
    mean_ms: round(sorted.reduce((s, x) => s + x, 0) / sorted.length),
    max_ms: round(sorted.at(-1) ?? NaN),
  };
};

interface Reply {
  status: number;
  body: string;
}
interface Plan {
  id: string;
  status: string;
  action_digest: string;
  verdicts: Array<{ step: string; details?: { containment_id?: string } }>;
}

async function run(backend: Backend) {
  const database = await freshDatabase(backend, 'containment');
  const env = {
    ...database.env,
    CORDON_DEMO: 'false',
    CORDON_OAUTH_RATE_PER_CLIENT: '0',
    CORDON_OAUTH_RATE_PER_ADDRESS: '0',
    CORDON_SIGN_IN_RATE_PER_ADDRESS: '0',
    // The restore-after and expiry job stays out of the way (nothing here is due), and the breaker
    // never trips: every sample executes.
    CORDON_RESTORE_WORKER_INTERVAL_MS: '600000',
    CORDON_BREAKER_MAX_ACTIONS: '10000',
  };
  try {
    console.error(`[${backend}] seeding ${users} users`);
    const core = await openCore(env);
    const { account } = await createAccount(core.directory, ctx, {
      name: 'Bench',
      owner: { email: 'o@bench.example', display_name: 'O' },
    });
    const approver = await createUser(core.directory, ctx, account.id, {
      email: 'approver@bench.example',
      display_name: 'Approver',
      role: 'ADMIN',
    });
    await importUsers(core.directory, ctx, account.id, {
      rows: Array.from({ length: users }, (_, i) => ({
        line: i + 1,
        user: { email: `u${i}@bench.example`, display_name: `U${i}` },
      })),
      problems: [],
    });
    // A live session per member: each suspension has one to revoke, each restore one to verify gone.
    await sql`INSERT INTO sessions (account_id, id, user_id, kind, expires_at)
              SELECT account_id, md5(id), id, 'web', now() + interval '1 day' FROM users
                WHERE account_id = ${account.id} AND role = 'MEMBER'`.execute(core.database.db);
    await applyPlaybooks(core.response, ctx, account.id, [
      { name: 'ask', match: { types: ['ask.*'] }, action: 'suspend', mode: 'approval' },
      { name: 'auto', match: { types: ['auto.*'] }, action: 'suspend', mode: 'auto' },
    ]);
    const { app, clientSecret } = await createApp(core.directory, ctx, account.id, {
      name: 'siem',
      permissions: ['signals:write'],
    });
    const adminToken = await mintSessionToken(core, approver);
    await core.audit.sequencer.drain();
    await sql`VACUUM ANALYZE`.execute(core.database.db);
    // PGlite lets one process hold its data dir: the server needs it next.
    await core.close();

    const server = await startServer(env);
    try {
      const appToken = await fetchAppToken(server.url, app.client_id, clientSecret!);

      // One keep-alive connection, one request at a time.
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const base = `${server.url}/v1/accounts/${account.id}`;
      const post = (path: string, token: string, payload: unknown) =>
        new Promise<Reply>((resolve, reject) => {
          const body = JSON.stringify(payload);
          const req = http.request(
            `${base}${path}`,
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
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      const timed = async (path: string, token: string, payload: unknown) => {
        const t = performance.now();
        const reply = await post(path, token, payload);
        return { ms: performance.now() - t, reply };
      };
      const expect = (what: string, reply: Reply, ok: (body: never) => boolean) => {
        if (reply.status !== 200 || !ok(JSON.parse(reply.body) as never))
          throw new Error(`${what}: ${reply.status} ${reply.body.slice(0, 2000)}`);
        return JSON.parse(reply.body) as unknown;
      };
      const signal = async (type: string, email: string) => {
        const reply = await post('/signals', appToken, {
          external_id: newId(),
          type,
          title: 'bench alert',
          severity: 'high',
          confidence: 0.9,
          subject: { email },
        });
        return (expect(`signal ${type}`, reply, (b: { plan?: Plan }) => b.plan !== undefined) as { plan: Plan }).plan;
      };

      let nextUser = 0;
      /** A pending suspension plan about a fresh user (untimed), then the approval that executes it. */
      const approval = async () => {
        const plan = await signal('ask.x', `u${nextUser++}@bench.example`);
        if (plan.status !== 'pending_approval') throw new Error(`ask: plan ${plan.status}`);
        const { ms, reply } = await timed(`/plans/${plan.id}:approve`, adminToken, {
          reason: 'confirmed',
          action_digest: plan.action_digest,
        });
        expect('approve', reply, (b: { plan: Plan }) => b.plan.status === 'executed');
        return ms;
      };
      /** A fresh user suspended by the auto playbook (untimed), then the restore. */
      const restore = async () => {
        const plan = await signal('auto.x', `u${nextUser++}@bench.example`);
        const containmentId = plan.verdicts.find((v) => v.step === 'execute')?.details?.containment_id;
        if (plan.status !== 'executed' || !containmentId) throw new Error(`auto: plan ${plan.status}, no containment`);
        const { ms, reply } = await timed(`/containments/${containmentId}:restore`, adminToken, {});
        expect(
          'restore',
          reply,
          (b: { status: string; verification: Record<string, boolean> | null }) =>
            b.status === 'restored' && b.verification !== null && Object.values(b.verification).every(Boolean),
        );
        return ms;
      };

      console.error(`[${backend}] warm-up: ${WARMUP} rounds`);
      for (let i = 0; i < WARMUP; i++) {
        await approval();
        await restore();
      }
      console.error(`[${backend}] ${SAMPLES} samples each`);
      const approvals: number[] = [];
      const restores: number[] = [];
      const t = performance.now();
      for (let i = 0; i < SAMPLES; i++) {
        approvals.push(await approval());
        restores.push(await restore());
        if ((i + 1) % 100 === 0) console.error(`[${backend}] ${i + 1}/${SAMPLES}`);
      }
      const seconds = round((performance.now() - t) / 1000);
      agent.destroy();
      const approvalStats = stats(approvals);
      const restoreStats = stats(restores);
      return {
        approval_to_execution: approvalStats,
        restore: restoreStats,
        ...(backend === 'postgres'
          ? {
              target_p99_ms: TARGET_P99_MS,
              target_met: {
                approval_to_execution: approvalStats.p99_ms <= TARGET_P99_MS,
                restore: restoreStats.p99_ms <= TARGET_P99_MS,
              },
            }
          : {}),
        sampling_seconds: seconds,
        rss_mb: { bench: rssMb(), server: processRssMb(server.child.pid!) },
      };
    } finally {
      await stopServer(server.child);
    }
  } finally {
    await database.drop();
  }
}

const started = performance.now();
const results: Record<string, Awaited<ReturnType<typeof run>>> = {};
for (const backend of BENCH_BACKENDS) results[backend] = await run(backend);
const pg = results.postgres;
console.log(
  JSON.stringify(
    {
      bench: 'containment',
      node: process.version,
      samples: SAMPLES,
      warmup: WARMUP,
      targets: { postgres_p99_ms: TARGET_P99_MS },
      target_met: pg ? pg.approval_to_execution.p99_ms <= TARGET_P99_MS && pg.restore.p99_ms <= TARGET_P99_MS : null,
      results,
      total_seconds: round((performance.now() - started) / 1000),
    },
    null,
    2,
  ),
);
