/**
 * PostgreSQL restart test: `cordon serve` runs on a PostgreSQL server of the test's own, under a stream
 * of suspend/reactivate/read calls, while that server is stopped (`-m immediate`, then `-m fast`, five
 * times each) and started again. Cordon must stay up, answer 503 UNAVAILABLE (with Retry-After, and on
 * /readyz) while the database is away, and recover by itself. Afterwards every acknowledged call is in
 * the audit log exactly once, no call is in it twice, replaying the entries reproduces every user's
 * state, the indexes are dense, the log verifies against its signed checkpoint, and the sequencer and
 * checkpointer caught up on their own. It prints the recovery times: from PostgreSQL accepting
 * connections again to Cordon's first 200.
 *
 * PostgreSQL only (it needs initdb and pg_ctl): skipped when CORDON_TEST_BACKENDS has no postgres.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportLog } from '../src/audit/export.js';
import { verifyExport } from '../src/audit/verify.js';
import { createUser } from '../src/directory/users.js';
import { createApp } from '../src/oauth/apps.js';
import { openDatabase, type DatabaseHandle } from '../src/storage/db.js';
import { listAuditEntries } from '../src/store/audit.js';
import { findCheckpoint } from '../src/store/checkpoints.js';
import { findUserById } from '../src/store/users.js';
import { BACKENDS, openTestCore, type TestDatabase } from './support/backends.js';
import { startServer, stopServer } from './support/cli.js';
import { seedAccount, testCtx } from './support/fixtures.js';
import {
  findPostgresBin,
  startScratchPostgres,
  waitUntilAccepting,
  type ScratchPostgres,
  type StopMode,
} from './support/scratch-postgres.js';

const PG_BIN = findPostgresBin();
const RESTARTS_PER_MODE = 5;
const CALLERS = 6;
/** How long the database stays away once Cordon has answered 503 (the outage the callers see). */
const OUTAGE_MS = 300;
/** Load between restarts, so that every restart hits transactions in flight. */
const LOAD_MS = 400;
const KEK = Buffer.alloc(32, 9).toString('base64url');

interface Call {
  n: number;
  kind: 'suspend' | 'reactivate' | 'read';
  userId: string;
  status: number;
}

const UNAVAILABLE_BODY = {
  code: 14,
  message: 'the database is unavailable; try again shortly',
  details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'UNAVAILABLE', domain: 'cordon' }],
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

describe.skipIf(!BACKENDS.includes('postgres') || !PG_BIN)('PostgreSQL restarts under load', () => {
  let server: ScratchPostgres;
  let databaseUrl: string;

  beforeAll(async () => {
    server = await startScratchPostgres(PG_BIN!);
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query('CREATE DATABASE cordon');
    await admin.end();
    databaseUrl = server.url.replace(/\/postgres$/, '/cordon');
  });
  afterAll(() => server?.destroy());

  it(
    `keeps every acknowledged call, doubles none, and recovers by itself ` +
      `across ${RESTARTS_PER_MODE} immediate and ${RESTARTS_PER_MODE} fast stops`,
    { timeout: 180_000 },
    async () => {
      const env = { DATABASE_URL: databaseUrl, CORDON_KEY_ENCRYPTION_KEY: KEK, CORDON_ISSUER: 'http://127.0.0.1:8080' };
      // The account, its users and an app, made in-process before the server starts.
      const database: TestDatabase = { backend: 'postgres', env, loadDataDir: undefined, drop: async () => undefined };
      const setup = await openTestCore(database);
      const seed = await seedAccount(setup, 6);
      await createUser(setup.directory, testCtx, seed.accountId, {
        email: 'owner2@test.example',
        display_name: 'Owner 2',
        role: 'OWNER',
      });
      const { app, clientSecret } = await createApp(setup.directory, testCtx, seed.accountId, {
        name: 'soar',
        permissions: ['users:read', 'users:suspend', 'users:reactivate'],
      });
      await setup.close();
      const userIds = [...seed.members.map((m) => m.id), seed.admin.id];

      const { child, url } = await startServer({
        ...env,
        CORDON_DEMO: 'false',
        CORDON_LOG_LEVEL: 'silent',
        CORDON_OAUTH_RATE_PER_CLIENT: '0',
        CORDON_SEQUENCER_INTERVAL_MS: '50',
        CORDON_CHECKPOINT_INTERVAL_MS: '100',
        CORDON_RESTORE_WORKER_INTERVAL_MS: '100',
      });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      let exited: string | undefined;
      child.on(
        'exit',
        (code, signal) => (exited ??= `cordon serve exited (code ${code}, signal ${signal}): ${stderr.slice(-2000)}`),
      );

      const tokenRes = await fetch(`${url}/v1/oauth/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${app.client_id}:${clientSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      });
      expect(tokenRes.status).toBe(200);
      const token = ((await tokenRes.json()) as { access_token: string }).access_token;

      const calls: Call[] = [];
      const unexpected: string[] = [];
      let unavailable = 0;
      /** performance.now() of the latest 200, and of the latest 503 seen. */
      let last200 = 0;
      let last503 = 0;
      let next = 0;
      let running = true;

      /** One call; a 503 must be the documented UNAVAILABLE answer. */
      async function call(kind: Call['kind']): Promise<void> {
        const n = next++;
        const userId = userIds[n % userIds.length]!;
        const path = `/v1/accounts/${seed.accountId}/users/${userId}`;
        const init: RequestInit =
          kind === 'read'
            ? { headers: { authorization: `Bearer ${token}` } }
            : {
                method: 'POST',
                headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
                body: JSON.stringify({ reason: `call-${n}` }),
              };
        const res = await fetch(url + path + (kind === 'read' ? '' : `:${kind}`), init);
        const body = await res.text();
        calls.push({ n, kind, userId, status: res.status });
        if (res.status === 200) last200 = performance.now();
        else if (res.status === 503) {
          unavailable++;
          last503 = performance.now();
          if (body !== JSON.stringify(UNAVAILABLE_BODY) || !/^\d+$/.test(res.headers.get('retry-after') ?? ''))
            unexpected.push(`503 ${res.headers.get('retry-after')} ${body}`);
          // A client honouring Retry-After would wait longer; a short pause keeps the outage busy without spinning.
          await sleep(5);
        } else unexpected.push(`${kind} ${n}: ${res.status} ${body}`);
      }

      async function caller(i: number): Promise<void> {
        while (running && !exited) {
          try {
            await call(i % 3 === 2 ? 'read' : Math.random() < 0.5 ? 'suspend' : 'reactivate');
          } catch (error) {
            // Cordon itself did not answer: it is down, which is what this test is about.
            unexpected.push(`no answer: ${(error as Error).message}`);
            await sleep(50);
          }
        }
      }

      /** /readyz's status and Retry-After, or `no answer`. */
      const readyz = async () => {
        const res = await fetch(`${url}/readyz`).catch(() => undefined);
        return res ? `${res.status} ${res.headers.get('retry-after')}` : 'no answer';
      };
      /** Waits for `done`, failing the test (not hanging it) when Cordon exited or it did not come. */
      const waitFor = async (done: () => boolean, what: string) => {
        const deadline = performance.now() + 20_000;
        while (!done()) {
          if (exited) throw new Error(`waiting for ${what}: ${exited}`);
          if (performance.now() > deadline) throw new Error(`${what} did not happen within 20 s`);
          await sleep(2);
        }
      };
      const load = Array.from({ length: CALLERS }, (_, i) => caller(i));
      const recovery: Record<StopMode, number[]> = { immediate: [], fast: [] };
      const readyzWhileAway: string[] = [];
      const unavailablePerOutage: number[] = [];
      try {
        for (const mode of ['immediate', 'fast'] as const) {
          for (let round = 0; round < RESTARTS_PER_MODE; round++) {
            await waitFor(() => last200 > 0, 'a first 200');
            await sleep(LOAD_MS);
            const stoppedAt = performance.now();
            const unavailableBefore = unavailable;
            await server.stop(mode);
            await waitFor(() => last503 > stoppedAt, `a 503 after the ${mode} stop`);
            readyzWhileAway.push(await readyz());
            await sleep(OUTAGE_MS);
            unavailablePerOutage.push(unavailable - unavailableBefore);

            await server.start();
            const accepting = await waitUntilAccepting(server.url);
            await waitFor(() => last200 > accepting, `Cordon's first 200 after the ${mode} restart`);
            recovery[mode].push(last200 - accepting);
          }
        }
        await sleep(LOAD_MS);
      } finally {
        running = false;
        await Promise.all(load);
      }
      expect(exited).toBeUndefined();
      expect(unexpected).toEqual([]);
      expect(readyzWhileAway).toEqual(Array(2 * RESTARTS_PER_MODE).fill('503 1'));
      expect(await readyz()).toBe('200 null');
      expect(unavailablePerOutage.filter((n) => n === 0)).toEqual([]);

      const figures = (['immediate', 'fast'] as const).map(
        (m) =>
          `${m}: median ${median(recovery[m]).toFixed(0)} ms, max ${Math.max(...recovery[m]).toFixed(0)} ms (` +
          `${recovery[m].map((x) => x.toFixed(0)).join(', ')})`,
      );
      console.log(
        `recovery, PostgreSQL accepting connections to Cordon's first 200: ${figures.join('; ')}; ${calls.length} ` +
          `calls, ${unavailable} answered 503`,
      );

      // The server's own sequencer and checkpointer catch up: nothing waits in the inbox, and the latest
      // checkpoint covers the whole log.
      const db = await openDatabase({ dataDir: '', databaseUrl, holder: 'test', migrate: false });
      try {
        await waitForCatchUp(db, seed.accountId);
      } finally {
        await db.close();
      }
      expect(await stopServer(child)).toBe(0);

      const core = await openTestCore(database);
      try {
        const entries = await listAuditEntries(core.database.db, {
          accountId: seed.accountId,
          includeUnsequenced: true,
        });
        expect(entries.map((e) => e.idx)).toEqual(entries.map((_, i) => i));

        const changes = new Map<number, (typeof entries)[number][]>();
        for (const e of entries) {
          const reason = (e.cause as { reason?: string }).reason;
          if (reason === undefined) continue;
          const n = Number(reason.slice('call-'.length));
          changes.set(n, [...(changes.get(n) ?? []), e]);
        }
        const byN = new Map(calls.map((c) => [c.n, c]));
        for (const [n, found] of changes) {
          // Nothing doubled: one entry a call, the call's own.
          expect(found, `call ${n} is recorded ${found.length} times`).toHaveLength(1);
          const c = byN.get(n)!;
          expect(found[0]).toMatchObject({ action: `user.${c.kind}`, target_id: c.userId });
          expect(['changed', 'unchanged']).toContain(found[0]!.outcome);
        }
        // Nothing lost: every acknowledged change is recorded.
        const acked = calls.filter((c) => c.kind !== 'read' && c.status === 200);
        expect(acked.filter((c) => !changes.has(c.n)).map((c) => c.n)).toEqual([]);
        // Reads are recorded through the group commit: each acknowledged one at least, none beyond those sent.
        const reads = entries.filter((e) => e.action === 'user.read').length;
        expect(reads).toBeGreaterThanOrEqual(calls.filter((c) => c.kind === 'read' && c.status === 200).length);
        expect(reads).toBeLessThanOrEqual(calls.filter((c) => c.kind === 'read').length);

        // No entry without its change, no change without its entry.
        for (const userId of userIds) {
          let state = 'ACTIVE';
          for (const e of entries.filter(
            (x) =>
              x.target_id === userId &&
              x.outcome === 'changed' &&
              (x.action === 'user.suspend' || x.action === 'user.reactivate'),
          )) {
            expect(e.details).toMatchObject({ from: state });
            state = (e.details as { to: string }).to;
          }
          expect((await findUserById(core.database.db, seed.accountId, userId))!.state).toBe(state);
        }

        const report = await verifyExport(exportLog(core.database.db, core.checkpointKey, seed.accountId), {
          trustedKey: core.checkpointKey.forLog(seed.accountId).verifierKey,
        });
        expect(report).toMatchObject({ ok: true, size: entries.length });
      } finally {
        await core.close();
      }
    },
  );
});

/** Waits until the log's inbox is empty and its latest checkpoint covers every entry. */
async function waitForCatchUp(db: DatabaseHandle, accountId: string): Promise<void> {
  for (let i = 0; ; i++) {
    const entries = await listAuditEntries(db.db, { accountId, includeUnsequenced: true });
    const checkpoint = await findCheckpoint(db.db, accountId);
    if (entries.every((e) => e.idx !== null) && checkpoint?.size === entries.length) return;
    if (i > 600)
      throw new Error(
        `the log did not catch up: ${entries.filter((e) => e.idx === null).length} entries unsequenced, checkpoint ` +
          `at ${checkpoint?.size} of ${entries.length}`,
      );
    await sleep(50);
  }
}
