/**
 * The audit log's Merkle tree and checkpoints under load. Prints JSON. Per backend:
 * - commit_to_checkpoint_ms: from a durable append (the await of `record`) until a signed checkpoint
 *   covers the entry, for probes at a steady rate over a steady background of appends, at the
 *   default checkpoint cadence (CORDON_CHECKPOINT_INTERVAL_MS, 500 ms);
 * - appends_per_second: suspend+reactivate (each a directory change and its entry in one
 *   transaction, as in bench/directory.ts) with 1 and 8 callers, with the checkpointer running and
 *   stopped: after a warm-up, in the order on, off, on (the sequencer always builds the tree);
 * - at BENCH_ENTRIES (1,000,000) entries in one log: how fast the sequencer builds the tree, how long
 *   the export and its offline verification (verifyExport, what `cordon audit verify` runs) take,
 *   and inclusion proofs over HTTP from `cordon serve` (random indexes, an audit:read app token),
 *   with 1 connection for latency and BENCH_CONNECTIONS for throughput.
 *   npx tsx bench/audit.ts
 * Knobs: BENCH_BACKENDS=pglite,postgres; BENCH_LARGE_BACKENDS=postgres (the 1M part: about 2 minutes
 * on PostgreSQL, 4 on PGlite); BENCH_SECONDS=5 (per throughput and proof run); BENCH_PROBE_SECONDS=10,
 * BENCH_PROBE_RATE=50, BENCH_BACKGROUND_RATE=500 (appends a second); BENCH_ENTRIES=1000000; BENCH_SEQUENCER_BATCH=20000
 * (for the 1M fill); BENCH_CONNECTIONS=10; BENCH_PARTS=small,large (the steady-log part, the 1M part).
 */
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { sql } from 'kysely';
import type { Core } from '../src/core.js';
import type { AuditAction } from '../src/audit/actions.js';
import type { CallContext } from '../src/audit/entry.js';
import { exportLog } from '../src/audit/export.js';
import { verifyExport } from '../src/audit/verify.js';
import { createAccount } from '../src/directory/accounts.js';
import { reactivateUser, suspendUser } from '../src/directory/user-state.js';
import { insertUsersWithGroups } from '../src/directory/users.js';
import { newId } from '../src/ids.js';
import { createApp } from '../src/oauth/apps.js';
import { startServer, stopServer } from '../test/support/cli.js';
import {
  type Backend,
  BENCH_BACKENDS,
  freshDatabase,
  hammer,
  openCore,
  percentile,
  processRssMb,
  round,
  rssMb,
  summarize,
} from './support.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const PROBE_SECONDS = Number(process.env.BENCH_PROBE_SECONDS ?? 10);
const PROBE_RATE = Number(process.env.BENCH_PROBE_RATE ?? 50);
const BACKGROUND_RATE = Number(process.env.BENCH_BACKGROUND_RATE ?? 500);
const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 1_000_000);
const SEQUENCER_BATCH = process.env.BENCH_SEQUENCER_BATCH ?? '20000';
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const LARGE_BACKENDS = (process.env.BENCH_LARGE_BACKENDS ?? 'postgres').split(',') as Backend[];
const PARTS = (process.env.BENCH_PARTS ?? 'small,large').split(',');
/** How often the commit-to-checkpoint poller looks: the figure's resolution. */
const POLL_MS = 10;

const ctx: CallContext = { actor: { type: 'operator', id: 'bench' }, authz: { method: 'bench' } };
const seconds = (since: number) => round((performance.now() - since) / 1000);
const stats = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1) ?? NaN),
  };
};

/** Three live sessions for a user: what each suspension revokes. */
const openSessions = (core: Core, accountId: string, userId: string) =>
  core.database.db
    .insertInto('sessions')
    .values([0, 1, 2].map(() => ({ account_id: accountId, id: newId(), user_id: userId, kind: 'web' as const })))
    .execute();

/** An account with 9 users (one per caller, up to 8, and one spare), each with 3 live sessions. */
async function seedAccount(core: Core) {
  const { account } = await createAccount(core.directory, ctx, {
    name: 'Bench',
    owner: { email: 'o@bench.example', display_name: 'O' },
  });
  const users = await core.audit.transact((trx) =>
    insertUsersWithGroups(
      core.directory,
      trx,
      ctx,
      account.id,
      Array.from({ length: 9 }, (_, i) => ({ email: `u${i}@bench.example`, display_name: `U${i}` })),
    ),
  );
  for (const user of users) await openSessions(core, account.id, user.id);
  return { accountId: account.id, userIds: users.map((u) => u.id) };
}

/**
 * Suspend+reactivate as bench/directory.ts runs it: every suspension revokes 3 sessions, reopened
 * untimed (but within the wall time) after each reactivation.
 */
async function directoryThroughput(core: Core, accountId: string, userIds: string[]) {
  const reopenSessions = (userId: string) => openSessions(core, accountId, userId);
  const suspended = new Set<string>();
  const cycle = async (userId: string, i: number) => {
    if (i % 2 === 0) {
      const { sessionsRevoked } = await suspendUser(core.directory, ctx, accountId, userId);
      if (sessionsRevoked.length !== 3) throw new Error(`expected 3 sessions revoked, got ${sessionsRevoked.length}`);
      suspended.add(userId);
    } else {
      await reactivateUser(core.directory, ctx, accountId, userId);
      suspended.delete(userId);
    }
  };
  const run = async (callers: number) => {
    const result = summarize(
      await hammer(
        callers,
        SECONDS,
        (c, i) => cycle(userIds[c]!, i),
        (c, i) => (i % 2 ? reopenSessions(userIds[c]!) : undefined),
      ),
      SECONDS,
    );
    // A caller may stop on a suspension: leave every user active with 3 sessions for the next run.
    for (const id of suspended) await cycle(id, 1).then(() => reopenSessions(id));
    return result;
  };
  return { callers_1: await run(1), callers_8: await run(8) };
}

/**
 * Probes at PROBE_RATE a second over BACKGROUND_RATE appends a second (both group-committed records).
 * Each probe's clock starts when its `record` resolves (durable). One poller, every POLL_MS, finds the
 * index the sequencer gave each waiting probe (by its target id, scanning only entries numbered since
 * the probe started) and stops the clocks of those below the latest checkpoint's size.
 */
async function commitToCheckpoint(core: Core, accountId: string) {
  const db = core.database.db;
  const head = async () => {
    const { rows } = await sql<{ signed: string | null; size: string | null }>`
      SELECT (SELECT max(size) FROM audit_checkpoints WHERE account_id = ${accountId}) AS signed,
             (SELECT size FROM audit_logs WHERE account_id = ${accountId}) AS size`.execute(db);
    return { signed: Number(rows[0]!.signed ?? 0), size: Number(rows[0]!.size ?? 0) };
  };
  interface Probe {
    target: string;
    floor: number;
    committedAt?: number;
    idx?: number;
  }
  const waiting = new Map<string, Probe>();
  const latencies: number[] = [];
  let known = await head();
  let stop = false;

  const poller = (async () => {
    while (!stop || waiting.size > 0) {
      await sleep(POLL_MS);
      known = await head();
      const unnumbered = [...waiting.values()].filter((p) => p.idx === undefined && p.committedAt !== undefined);
      if (unnumbered.length > 0) {
        const floor = Math.min(...unnumbered.map((p) => p.floor));
        const { rows } = await sql<{ target_id: string; idx: string }>`
          SELECT target_id, idx FROM audit_entries
          WHERE account_id = ${accountId} AND idx >= ${floor}
            AND target_id = ANY(${unnumbered.map((p) => p.target)}::text[])`.execute(db);
        for (const row of rows) waiting.get(row.target_id)!.idx = Number(row.idx);
      }
      const now = performance.now();
      for (const probe of waiting.values()) {
        if (probe.idx !== undefined && probe.idx < known.signed) {
          latencies.push(now - probe.committedAt!);
          waiting.delete(probe.target);
        }
      }
    }
  })();

  // Paced loops: each sends its next append at its own fixed schedule, or at once when behind.
  const paced = async (rate: number, fn: (i: number) => Promise<void>) => {
    const start = performance.now();
    const inFlight: Array<Promise<void>> = [];
    for (let i = 0; performance.now() - start < PROBE_SECONDS * 1000; i++) {
      const due = start + (i * 1000) / rate;
      if (due > performance.now()) await sleep(due - performance.now());
      inFlight.push(fn(i));
    }
    await Promise.all(inFlight);
  };
  const entry = (action: AuditAction, target: string, i: number) =>
    ({ accountId, ctx, action, target: { type: 'user', id: target }, outcome: 'read', details: { i } }) as const;

  await Promise.all([
    paced(BACKGROUND_RATE, (i) => core.audit.record(entry('user.read', 'background', i))),
    paced(PROBE_RATE, async (i) => {
      const probe: Probe = { target: `probe-${i}`, floor: known.size };
      waiting.set(probe.target, probe);
      await core.audit.record(entry('user.read', probe.target, i));
      probe.committedAt = performance.now();
    }),
  ]);
  stop = true;
  await poller;
  return {
    ...stats(latencies),
    probe_rate: PROBE_RATE,
    background_rate: BACKGROUND_RATE,
    poll_ms: POLL_MS,
    checkpoint_interval_ms: core.config.checkpoints.intervalMs,
  };
}

async function smallLog(backend: Backend) {
  const database = await freshDatabase(backend, 'audit');
  const core = await openCore(database.env);
  try {
    const { accountId, userIds } = await seedAccount(core);

    const latency = await commitToCheckpoint(core, accountId);

    // A warm-up (JIT, connection pool, caches), then on, off, on: the tables grow as the runs go, so
    // the two "on" runs bracket the "off" one.
    await directoryThroughput(core, accountId, userIds);
    const on1 = await directoryThroughput(core, accountId, userIds);
    await core.checkpointer.stop();
    const off = await directoryThroughput(core, accountId, userIds);
    core.checkpointer.start();
    const on2 = await directoryThroughput(core, accountId, userIds);
    const ratio = (k: 'callers_1' | 'callers_8') =>
      round((on1[k].per_second + on2[k].per_second) / 2 / off[k].per_second);

    return {
      commit_to_checkpoint_ms: latency,
      appends_per_second: {
        with_checkpoints: { run_1: on1, run_2: on2 },
        checkpointer_stopped: off,
        ratio_with_to_stopped: { callers_1: ratio('callers_1'), callers_8: ratio('callers_8') },
      },
      rss_mb: rssMb(),
    };
  } finally {
    await core.close();
    await database.drop();
  }
}

/** Inclusion proofs of random indexes from `cordon serve` (run from source, like the e2e tests). */
async function proofsOverHttp(env: Record<string, string>, accountId: string, clientId: string, secret: string) {
  const server = await startServer(env);
  try {
    const res = await fetch(`${server.url}/oauth/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    if (!res.ok) throw new Error(`token: ${res.status} ${await res.text()}`);
    const { access_token: token } = (await res.json()) as { access_token: string };
    const sample = (await (
      await fetch(`${server.url}/v1/accounts/${accountId}/audit/entries/0/proof`, {
        headers: { authorization: `Bearer ${token}` },
      })
    ).json()) as { inclusion_path: string[] };
    const proofPath = () => `/v1/accounts/${accountId}/audit/entries/${Math.floor(Math.random() * ENTRIES)}/proof`;
    const run = async (connections: number, path = proofPath) => {
      const result = await autocannon({
        url: server.url,
        connections,
        duration: SECONDS,
        headers: { authorization: `Bearer ${token}` },
        requests: [{ method: 'GET', setupRequest: (req: { path: string }) => ({ ...req, path: path() }) }],
      });
      if (result.non2xx > 0 || result.errors > 0)
        throw new Error(`proofs: ${result.non2xx} non-2xx, ${result.errors} errors`);
      return {
        connections,
        per_second: Math.round(result.requests.average),
        p50_ms: result.latency.p50,
        p99_ms: result.latency.p99,
      };
    };
    const single = await run(1);
    const many = await run(CONNECTIONS);
    // The same server's floor in the same run: a route that touches neither the token nor the database.
    const floor = await run(1, () => '/healthz');
    return {
      path_length_entry_0: sample.inclusion_path.length,
      latency: single,
      throughput: many,
      healthz_latency: floor,
      server_rss_mb: processRssMb(server.child.pid!),
    };
  } finally {
    await stopServer(server.child);
  }
}

async function largeLog(backend: Backend) {
  const database = await freshDatabase(backend, 'audit_large');
  const env = {
    ...database.env,
    CORDON_SEQUENCER_BATCH: SEQUENCER_BATCH,
    CORDON_OAUTH_RATE_PER_CLIENT: '0',
    CORDON_OAUTH_RATE_PER_ADDRESS: '0',
  };
  const dir = mkdtempSync(path.join(tmpdir(), 'cordon-bench-export-'));
  const file = path.join(dir, 'audit.jsonl');
  const core = await openCore(env);
  let coreOpen = true;
  try {
    const { accountId } = await seedAccount(core);
    const { app, clientSecret } = await createApp(core.directory, ctx, accountId, {
      name: 'bench',
      permissions: ['audit:read'],
    });
    await core.audit.sequencer.drain();
    const before = Number(
      (
        await sql<{ size: string }>`SELECT size FROM audit_logs WHERE account_id = ${accountId}`.execute(
          core.database.db,
        )
      ).rows[0]!.size,
    );

    // Fill the inbox in one statement, with the sequencer and checkpointer stopped, so the build is
    // timed alone: every entry distinct (its target and details), as real ones are.
    await core.audit.sequencer.stop();
    await core.checkpointer.stop();
    let t = performance.now();
    await sql`
      INSERT INTO audit_inbox (account_id, actor_type, actor_id, action, target_type, target_id, cause, authz, outcome,
        details)
      SELECT ${accountId}, 'operator', 'bench', 'user.read', 'user', 'u' || g, '{}', '{"method":"bench"}', 'read',
        jsonb_build_object('i', g)
      FROM generate_series(1, ${ENTRIES - before}) AS g`.execute(core.database.db);
    const insertSeconds = seconds(t);
    t = performance.now();
    await core.audit.sequencer.drain();
    const buildSeconds = seconds(t);
    t = performance.now();
    await core.checkpointer.pass();
    const checkpointMs = round(performance.now() - t);
    // Freshly loaded tables have no statistics until analyzed (autovacuum on PostgreSQL, Cordon's own
    // timer every 5 minutes on PGlite), and the proof route's node lookup is a join; the sequencer has
    // just emptied a million-row inbox, which autovacuum would otherwise clean up during the timed
    // runs. Vacuum and analyze now, so the figures are the steady state's.
    t = performance.now();
    await sql`VACUUM ANALYZE audit_inbox, audit_entries, audit_tree_nodes`.execute(core.database.db);
    const analyzeSeconds = seconds(t);
    const nodes = (
      await sql<{ n: string }>`SELECT count(*) AS n FROM audit_tree_nodes WHERE account_id = ${accountId}`.execute(
        core.database.db,
      )
    ).rows[0]!.n;
    const rssAfterBuild = rssMb();

    t = performance.now();
    const out = createWriteStream(file);
    for await (const chunk of exportLog(core.database.db, core.checkpointKey, accountId))
      if (!out.write(chunk)) await once(out, 'drain');
    await new Promise<void>((resolve, reject) =>
      out.end((error?: Error | null) => (error ? reject(error) : resolve())),
    );
    const exportSeconds = seconds(t);
    const trustedKey = core.checkpointKey.verifierKey;
    // PGlite lets one process hold its data dir: the server needs it next.
    await core.close();
    coreOpen = false;

    t = performance.now();
    const rssBeforeVerify = rssMb();
    const report = await verifyExport(createReadStream(file, { highWaterMark: 1 << 20 }), { trustedKey });
    const verifySeconds = seconds(t);
    if (!report.ok || report.size !== ENTRIES) throw new Error(`verify: ${JSON.stringify(report)}`);

    const proofs = await proofsOverHttp(env, accountId, app.client_id, clientSecret!);
    return {
      entries: ENTRIES,
      sequencer_batch: Number(SEQUENCER_BATCH),
      inbox_insert_seconds: insertSeconds,
      tree_build: {
        seconds: buildSeconds,
        entries_per_second: Math.round((ENTRIES - before) / buildSeconds),
        tree_nodes: Number(nodes),
      },
      checkpoint_at_1m_ms: checkpointMs,
      vacuum_analyze_seconds: analyzeSeconds,
      export: { seconds: exportSeconds, bytes: statSync(file).size },
      verify_1m_seconds: verifySeconds,
      verify_rss_mb: { before: rssBeforeVerify, after: rssMb() },
      inclusion_proof_ms: proofs,
      rss_mb_after_build: rssAfterBuild,
    };
  } finally {
    if (coreOpen) await core.close();
    rmSync(dir, { recursive: true, force: true });
    await database.drop();
  }
}

const started = performance.now();
const results: Record<string, unknown> = {};
for (const backend of BENCH_BACKENDS) {
  const t = performance.now();
  const small = PARTS.includes('small') ? await smallLog(backend) : { skipped: 'not in BENCH_PARTS' };
  const large = !PARTS.includes('large')
    ? { skipped: 'not in BENCH_PARTS' }
    : LARGE_BACKENDS.includes(backend)
      ? await largeLog(backend)
      : {
          skipped:
            `not in BENCH_LARGE_BACKENDS (${LARGE_BACKENDS.join(',')}): filling and sequencing ${ENTRIES} entries ` +
            `on the embedded database is slow`,
        };
  results[backend] = { ...small, large_log: large, seconds: seconds(t) };
}

console.log(
  JSON.stringify(
    {
      bench: 'audit',
      node: process.version,
      seconds_per_run: SECONDS,
      probe_seconds: PROBE_SECONDS,
      targets: { commit_to_checkpoint_p99_ms: 1500, inclusion_proof_p99_ms: 2, verify_1m_seconds: 10 },
      results,
      total_seconds: seconds(started),
    },
    null,
    2,
  ),
);
