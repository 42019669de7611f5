/**
 * The Users API over loopback HTTP, from `cordon serve` (run from source, as the e2e tests do), on each
 * backend. Prints JSON:
 * - list_page_100: `GET …/users?max_page_size=100` at random pages of a BENCH_USERS (100,000)-user
 *   account (made by one `importUsers`, as `cordon users import` does), every read audited through the
 *   group commit, p50/p99 with 1 and 16 connections;
 * - suspend_reactivate: each connection alternates `:suspend` and `:reactivate` on its own user (token
 *   validation, the directory service, the audit entry in the same transaction) over HTTP, against the
 *   same operations called directly on the directory service in the same run, BENCH_CALLERS (8) at once;
 *   the ratio HTTP / direct.
 *   npx tsx bench/users-api.ts
 * Knobs: BENCH_BACKENDS=pglite,postgres; BENCH_USERS=100000; BENCH_SECONDS=5; BENCH_CALLERS=8.
 */
import autocannon from 'autocannon';
import { sql } from 'kysely';
import type { CallContext } from '../src/audit/entry.js';
import { createAccount } from '../src/directory/accounts.js';
import { reactivateUser, suspendUser } from '../src/directory/user-state.js';
import { importUsers } from '../src/directory/import.js';
import { createApp } from '../src/oauth/apps.js';
import { startServer, stopServer } from '../test/support/cli.js';
import {
  type Backend,
  BENCH_BACKENDS,
  fetchAppToken,
  freshDatabase,
  hammer,
  openCore,
  round,
  summarize,
} from './support.js';

/** What autocannon passes to setupRequest (its module has no types here: bench/autocannon.d.ts). */
type CannonRequest = { method?: string; path?: string; setupRequest?: unknown };

const USERS = Number(process.env.BENCH_USERS ?? 100_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CALLERS = Number(process.env.BENCH_CALLERS ?? 8);
const ctx: CallContext = { actor: { type: 'operator', id: 'bench' }, authz: { method: 'bench' } };
const seconds = (since: number) => round((performance.now() - since) / 1000);

async function run(backend: Backend) {
  const database = await freshDatabase(backend, 'users_api');
  const env = { ...database.env, CORDON_OAUTH_RATE_PER_CLIENT: '0', CORDON_OAUTH_RATE_PER_ADDRESS: '0' };
  try {
    // The account, its users (one import, with an audit entry per user, as `cordon users import` does) and the app.
    const core = await openCore(env);
    let t = performance.now();
    const { account } = await createAccount(core.directory, ctx, {
      name: 'Bench',
      owner: { email: 'o@bench.example', display_name: 'O' },
    });
    const rows = Array.from({ length: USERS - 1 }, (_, i) => ({
      line: i + 1,
      user: { email: `u${i}@bench.example`, display_name: `User ${i}` },
    }));
    await importUsers(core.directory, ctx, account.id, { rows, problems: [] });
    await core.audit.sequencer.drain();
    // The sequencer just moved 100,000 entries out of the inbox: vacuum what it churned now rather than
    // during the timed runs (the import itself analyzed the users table).
    await sql`VACUUM ANALYZE audit_inbox, audit_entries, audit_tree_nodes`.execute(core.database.db);
    const seedSeconds = seconds(t);
    const { app, clientSecret } = await createApp(core.directory, ctx, account.id, {
      name: 'bench',
      permissions: ['users:list', 'users:read', 'users:suspend', 'users:reactivate'],
    });
    const members = (
      await core.database.db
        .selectFrom('users')
        .select('id')
        .where('account_id', '=', account.id)
        .where('role', '=', 'MEMBER')
        .orderBy('id')
        .limit(CALLERS)
        .execute()
    ).map((u) => u.id);

    // Direct: the directory service in this process, CALLERS callers, each on its own user.
    const direct = async () =>
      summarize(
        await hammer(CALLERS, SECONDS, (caller, i) =>
          (i % 2 === 0 ? suspendUser : reactivateUser)(core.directory, ctx, account.id, members[caller]!),
        ),
        SECONDS,
      );
    await direct(); // warm-up
    const directRun = await direct();
    for (const id of members) await reactivateUser(core.directory, ctx, account.id, id);
    await core.close();

    const server = await startServer(env);
    try {
      const token = await fetchAppToken(server.url, app.client_id, clientSecret!);
      const headers = { authorization: `Bearer ${token}`, 'user-agent': 'cordon-bench' };
      const base = `/v1/accounts/${account.id}/users`;

      // Page tokens across the whole list: walk it once (100 a page) and keep every tenth token.
      t = performance.now();
      const tokens: string[] = [];
      for (let pageToken: string | undefined, page = 0; ; page++) {
        const res = await fetch(
          `${server.url}${base}?max_page_size=100${pageToken ? `&page_token=${pageToken}` : ''}`,
          { headers },
        );
        const body = (await res.json()) as { next_page_token?: string };
        if (!body.next_page_token) break;
        pageToken = body.next_page_token;
        if (page % 10 === 0) tokens.push(pageToken);
      }
      const walkSeconds = seconds(t);

      const cannon = async (connections: number, requests: CannonRequest[]) => {
        const result = await autocannon({ url: server.url, connections, duration: SECONDS, headers, requests });
        if (result.non2xx > 0 || result.errors > 0)
          throw new Error(`${result.non2xx} non-2xx, ${result.errors} errors`);
        return {
          connections,
          per_second: Math.round(result.requests.average),
          p50_ms: result.latency.p50,
          p99_ms: result.latency.p99,
        };
      };
      const randomPage = [
        {
          method: 'GET' as const,
          setupRequest: (req: CannonRequest) => ({
            ...req,
            path: `${base}?max_page_size=100&page_token=${tokens[Math.floor(Math.random() * tokens.length)]}`,
          }),
        },
      ];
      await cannon(16, randomPage); // warm-up
      const list1 = await cannon(1, randomPage);
      const list16 = await cannon(16, randomPage);

      // Each connection takes its own user on its first request and alternates :suspend / :reactivate on it.
      let next = 0;
      const alternate = [
        {
          method: 'POST' as const,
          setupRequest: (req: CannonRequest, context: { user?: string; n?: number }) => {
            context.user ??= members[next++ % members.length];
            context.n = (context.n ?? 0) + 1;
            return { ...req, path: `${base}/${context.user}:${context.n % 2 === 1 ? 'suspend' : 'reactivate'}` };
          },
        },
      ];
      await cannon(CALLERS, alternate); // warm-up
      next = 0;
      const httpRun = await cannon(CALLERS, alternate);
      return {
        users: USERS,
        seed_seconds: seedSeconds,
        list_walk: { pages: Math.ceil(USERS / 100), seconds: walkSeconds },
        list_page_100: { connections_1: list1, connections_16: list16 },
        suspend_reactivate: {
          callers: CALLERS,
          direct: directRun,
          http: httpRun,
          ratio_http_to_direct: round(httpRun.per_second / directRun.per_second),
        },
      };
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
      bench: 'users-api',
      node: process.version,
      seconds_per_run: SECONDS,
      targets: { list_p99_ms_connections_1_postgres: 10, ratio_http_to_direct: 0.6 },
      results,
      total_seconds: seconds(started),
    },
    null,
    2,
  ),
);
