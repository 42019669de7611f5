/**
 * How soon a pending approval reaches a webhook receiver (issue 17: "within a second of the plan"), on
 * PostgreSQL, over loopback: from the start of a SIEM alert's POST to the receiver having the signed
 * `plan.pending_approval` (the audit sequencer numbers the plan's entry, the fan-out writes the delivery
 * in the same transaction, the worker sends it). Against the floor measured in the same run: the alert's
 * own round trip (the plan made and answered). Prints JSON with p50/p99 of both and the ratio.
 *   npx tsx bench/webhooks.ts      (needs the PostgreSQL at 127.0.0.1:5432)
 * Knobs: BENCH_SAMPLES=100, BENCH_BACKEND=postgres|pglite.
 */
import { createAccount } from '../src/directory/accounts.js';
import { buildServer } from '../src/http/server.js';
import { createWebhook } from '../src/notify/subscriptions.js';
import { openConsoleWorld } from '../test/support/console-world.js';
import { testCtx } from '../test/support/fixtures.js';
import { startReceiver } from '../test/support/webhook-receiver.js';
import { freshDatabase, openCore, percentile, round, type Backend } from './support.js';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 100);
const BACKEND = (process.env.BENCH_BACKEND ?? 'postgres') as Backend;

const database = await freshDatabase(BACKEND, 'webhooks');
const core = await openCore({ ...database.env, CORDON_BREAKER_MAX_ACTIONS: '10000' });
const { account } = await createAccount(core.directory, testCtx, {
  name: 'Bench Co',
  owner: { email: 'owner@bench.example', display_name: 'Owner' },
});
const server = await buildServer(core);
await server.listen({ host: '127.0.0.1', port: 0 });
const url = `http://127.0.0.1:${(server.server.address() as { port: number }).port}`;
const receiver = await startReceiver();
await createWebhook(core.notify, testCtx, account.id, { url: receiver.url, events: ['plan.pending_approval'] });
const world = await openConsoleWorld({ core, accountId: account.id, url });

const alertMs: number[] = [];
const deliveredMs: number[] = [];
for (let i = 0; i < SAMPLES + 5; i++) {
  const subject = await world.member(`person${i}`);
  const before = receiver.received.length;
  const start = performance.now();
  const startedAt = Date.now();
  const answer = await world.alert(subject.email, 'review.login');
  const answered = performance.now() - start;
  if (answer.status !== 200) throw new Error(`alert answered ${answer.status}`);
  const [got] = (await receiver.waitFor(before + 1, 10_000)).slice(before);
  if (i < 5) continue;
  alertMs.push(answered);
  deliveredMs.push(got!.at - startedAt);
}
const stats = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return { p50_ms: round(percentile(sorted, 50)), p99_ms: round(percentile(sorted, 99)) };
};
const delivered = stats(deliveredMs);
const floor = stats(alertMs);
console.log(
  JSON.stringify(
    {
      backend: BACKEND,
      samples: SAMPLES,
      alert_to_webhook: delivered,
      floor_alert_round_trip: floor,
      ratio_p50: round(delivered.p50_ms / floor.p50_ms),
      within_one_second: deliveredMs.filter((ms) => ms < 1000).length / deliveredMs.length,
    },
    null,
    2,
  ),
);
await receiver.close();
await server.close();
await core.close();
await database.drop();
