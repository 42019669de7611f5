/**
 * The console's pages (issue 17): the bytes of each, and its time to first byte against `/healthz` on
 * the same server in the same run, alternating request by request (healthz, page, healthz, page, …), on
 * PostgreSQL. The server is the console as `cordon serve` mounts it, over loopback, with a realistic
 * account: 50 people, 10 plans waiting for approval, 5 containments, their audit entries. Prints JSON:
 * per page its bytes, TTFB p50/p99, /healthz's p50/p99 over the same rounds, and the p99 ratio (target ≤ 3×).
 *   npx tsx bench/console.ts      (needs the PostgreSQL at 127.0.0.1:5432)
 * Knobs: BENCH_SAMPLES=300, BENCH_WARMUP=100, BENCH_BACKEND=postgres|pglite.
 */
import { sql } from 'kysely';
import { createAccount } from '../src/directory/accounts.js';
import { createUser } from '../src/directory/users.js';
import { consoleRoutes } from '../src/console/routes.js';
import { buildServer } from '../src/http/server.js';
import { ConsoleClient } from '../test/support/console-client.js';
import { openConsoleWorld } from '../test/support/console-world.js';
import { mintSessionToken, testCtx } from '../test/support/fixtures.js';
import { freshDatabase, openCore, percentile, round, type Backend } from './support.js';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 300);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 100);
const BACKEND = (process.env.BENCH_BACKEND ?? 'postgres') as Backend;
const TARGET_RATIO = 3;

const database = await freshDatabase(BACKEND, 'console');
const core = await openCore({ ...database.env, CORDON_SIGN_IN_RATE_PER_ADDRESS: '0' });
const { account, owner } = await createAccount(core.directory, testCtx, {
  name: 'Bench Co',
  owner: { email: 'owner@bench.example', display_name: 'Owner' },
});
await sql`UPDATE users SET password_change_required = false WHERE id = ${owner.id}`.execute(core.database.db);
const admin = await createUser(core.directory, testCtx, account.id, {
  email: 'ada@bench.example',
  display_name: 'Ada',
  role: 'ADMIN',
});
const server = await buildServer(core, { register: (app) => consoleRoutes(app, core) });
await server.listen({ host: '127.0.0.1', port: 0 });
const url = `http://127.0.0.1:${(server.server.address() as { port: number }).port}`;

const world = await openConsoleWorld({ core, accountId: account.id, url });
const members = [];
for (let i = 0; i < 50; i++) members.push(await world.member(`person${i}`));
for (let i = 0; i < 10; i++) await world.alert(members[i]!.email, 'review.login');
for (let i = 10; i < 15; i++) await world.alert(members[i]!.email, 'auto.malware');
await core.audit.settle();
await new Promise((resolve) => setTimeout(resolve, 500));

const first = async <T>(query: string): Promise<T> => (await sql.raw<T>(query).execute(core.database.db)).rows[0]!;
const plan = await first<{ id: string }>(`SELECT id FROM plans WHERE status = 'pending_approval' LIMIT 1`);
const containment = await first<{ id: string }>('SELECT id FROM containments LIMIT 1');
const audit = await first<{ idx: number }>(`SELECT max(idx) AS idx FROM audit_entries WHERE idx IS NOT NULL`);

const client = new ConsoleClient(url);
client.cookies.set('__Host-cordon', await mintSessionToken(core, { account_id: account.id, id: admin.id }, 'console'));
const pages: Record<string, string> = {
  sign_in: '/console/sign-in',
  inbox: '/console',
  inbox_fragment: '/console/inbox',
  plan: `/console/plans/${plan.id}`,
  incidents: '/console/incidents',
  containment: `/console/containments/${containment.id}`,
  users: '/console/users?q=person1',
  user: `/console/users/${members[10]!.id}`,
  audit: '/console/audit',
  audit_entry: `/console/audit/${audit.idx}`,
  playbooks: '/console/playbooks',
  playbook: '/console/playbooks/review-first',
  automation: '/console/automation',
};

/** Time to the response's headers (fetch resolves there), then the whole body read. */
async function ttfb(path: string, withCookies: boolean): Promise<{ ms: number; bytes: number; status: number }> {
  const start = performance.now();
  const response = withCookies ? await client.request(path) : await fetch(url + path);
  const ms = performance.now() - start;
  const bytes = (await response.arrayBuffer()).byteLength;
  return { ms, bytes, status: response.status };
}

const stats = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return { p50_ms: round(percentile(sorted, 50), 3), p99_ms: round(percentile(sorted, 99), 3) };
};
const result: Record<string, unknown> = {};
for (const [name, path] of Object.entries(pages)) {
  const page: number[] = [];
  const health: number[] = [];
  let bytes = 0;
  let status = 0;
  for (let i = 0; i < WARMUP + SAMPLES; i++) {
    const h = await ttfb('/healthz', false);
    const p = await ttfb(path, true);
    if (i < WARMUP) continue;
    health.push(h.ms);
    page.push(p.ms);
    bytes = p.bytes;
    status = p.status;
  }
  const pageStats = stats(page);
  const healthStats = stats(health);
  result[name] = {
    path,
    status,
    bytes,
    ttfb: pageStats,
    healthz: healthStats,
    ratio_p99: round(pageStats.p99_ms / healthStats.p99_ms),
    ratio_p50: round(pageStats.p50_ms / healthStats.p50_ms),
  };
  console.error(`[console] ${name}: ${JSON.stringify(result[name])}`);
}
console.log(
  JSON.stringify({ backend: BACKEND, samples: SAMPLES, target_ratio_p99: TARGET_RATIO, pages: result }, null, 2),
);
await server.close();
await core.close();
await database.drop();
