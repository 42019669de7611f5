import { sql } from 'kysely';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { WebhookWorker, type WebhookWorkerOptions } from '../../src/notify/worker.js';
import { setPaused } from '../../src/response/automation.js';
import { describeBackends } from '../support/backends.js';
import { auditTrail, mintSessionToken, seedAccount, testCtx, type SeededAccount } from '../support/fixtures.js';
import { useServer } from '../support/server.js';
import { startReceiver, type Receiver } from '../support/webhook-receiver.js';

interface Created {
  webhook: { id: string };
  secret: string;
}

describeBackends('webhook delivery', (backend) => {
  let core: Core;
  let seed: SeededAccount;
  let ownerToken: string;
  let receiver: Receiver;
  let clock = Date.now();
  let subscription: Created;
  const suite = useServer(backend);

  const api = (method: 'GET' | 'POST' | 'DELETE', path: string, payload?: unknown) =>
    suite.server.inject({
      method,
      url: `/v1/accounts/${seed.accountId}${path}`,
      headers: { authorization: `Bearer ${ownerToken}` },
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
  /** A worker on the test's clock (the core's own is stopped): passes run only when the test says. */
  const worker = (options: Partial<WebhookWorkerOptions> = {}) =>
    new WebhookWorker(core.notify, {
      intervalMs: 600_000,
      timeoutMs: 2000,
      disableAfter: 1000,
      userAgent: 'Cordon/test',
      now: () => clock,
      random: () => 0.5,
      ...options,
    });
  /** Pauses the account's automation (resuming it first): one `automation.paused` event, fanned out. */
  const pause = async () => {
    await setPaused(core.directory, testCtx, seed.accountId, false);
    await setPaused(core.directory, testCtx, seed.accountId, true, 'maintenance');
    await core.audit.sequencer.drain();
  };
  const subscribe = async (events = ['automation.paused']) => {
    const res = await api('POST', '/webhooks', { url: receiver.url, events });
    expect(res.statusCode, res.body).toBe(201);
    return res.json<Created>();
  };
  const deliveries = async (id: string) =>
    (await api('GET', `/webhooks/${id}/deliveries`)).json<{ deliveries: Array<Record<string, unknown>> }>().deliveries;

  beforeAll(async () => {
    core = suite.core;
    await core.webhookWorker.stop();
    receiver = await startReceiver();
    seed = await seedAccount(core, 1);
    ownerToken = await mintSessionToken(core, seed.owner);
  });
  afterAll(async () => receiver?.close());
  afterEach(async () => {
    if (subscription) await api('DELETE', `/webhooks/${subscription.webhook.id}`);
    receiver.received.length = 0;
    receiver.answer = 204;
    receiver.retryAfter = undefined;
  });

  it("reaches a receiver down for 2 minutes of the worker's clock: once, with the same webhook-id", async () => {
    subscription = await subscribe();
    const sender = worker();
    receiver.answer = 503;
    await pause();
    const start = (clock = Date.now());
    while (clock - start < 120_000) {
      await sender.pass();
      clock += 1000;
    }
    receiver.answer = 200;
    for (let i = 0; i < 120 && !receiver.received.some((r) => r.answered === 200); i++) {
      await sender.pass();
      clock += 1000;
    }
    // Backoff from 2 s, doubling (no jitter at random() = 0.5): attempts at 0, 2, 6, 14, 30, 62 and 126 s.
    expect(receiver.received.map((r) => r.answered)).toEqual([503, 503, 503, 503, 503, 503, 200]);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
    const stamps = receiver.received.map((r) => Number(r.headers['webhook-timestamp']) - Math.floor(start / 1000));
    expect(stamps).toEqual([0, 2, 6, 14, 30, 62, 126]);
    const last = receiver.received.at(-1)!;
    expect(new Webhook(subscription.secret).verify(last.body, last.headers as Record<string, string>)).toMatchObject({
      type: 'automation.paused',
      data: { account_id: seed.accountId, reason: 'maintenance', console_url: `${core.issuer}/console/automation` },
    });
    // Nothing more goes out: it was delivered.
    clock += 3_600_000;
    expect(await sender.pass()).toBe(0);
    const [delivery] = await deliveries(subscription.webhook.id);
    expect(delivery).toMatchObject({ state: 'delivered', attempts: 7, message_id: last.headers['webhook-id'] });
    expect(
      (delivery!.attempt_log as Array<{ status_code: number; error: string | null }>).map((a) => a.status_code),
    ).toEqual([503, 503, 503, 503, 503, 503, 200]);
    expect(delivery!.attempt_log).toContainEqual(
      expect.objectContaining({
        attempt: 1,
        status_code: 503,
        error: 'HTTP 503',
        response_excerpt: 'receiver says no',
      }),
    );
  });

  it("waits at least the receiver's Retry-After", async () => {
    subscription = await subscribe();
    receiver.answer = 429;
    receiver.retryAfter = '90';
    await pause();
    clock = Date.now();
    await worker().pass();
    const [delivery] = await deliveries(subscription.webhook.id);
    expect(delivery).toMatchObject({ state: 'pending', attempts: 1, last_error: 'HTTP 429' });
    expect(Date.parse(delivery!.next_attempt_time as string)).toBe(clock + 90_000);
  });

  it('records an attempt it could not make, and keeps to the retry schedule', async () => {
    subscription = await subscribe();
    await sql`UPDATE webhook_subscriptions SET secret = 'v1.AAAA.AAAA.AAAA'
      WHERE id = ${subscription.webhook.id}`.execute(core.database.db);
    await pause();
    clock = Date.now();
    await worker().pass();
    const [delivery] = await deliveries(subscription.webhook.id);
    expect(delivery).toMatchObject({
      state: 'pending',
      attempts: 1,
      last_error:
        `cannot send: cannot decrypt webhook:${seed.accountId}:${subscription.webhook.id}: ` +
        'CORDON_KEY_ENCRYPTION_KEY differs from the one it was stored with',
    });
    expect(Date.parse(delivery!.next_attempt_time as string)).toBe(clock + 2000);
    expect(receiver.received).toHaveLength(0);
  });

  it("gives up at the delivery's deadline (CORDON_WEBHOOK_GIVE_UP_SECONDS, 24 h by default)", async () => {
    subscription = await subscribe();
    receiver.answer = 500;
    await pause();
    const sender = worker();
    clock = Date.now();
    await sender.pass();
    clock += 86_400_000 - 1000; // a second before the deadline: one more try, and no time for another
    await sender.pass();
    clock += 3_600_000;
    expect(await sender.pass()).toBe(0);
    expect(receiver.received).toHaveLength(2);
    expect((await deliveries(subscription.webhook.id))[0]).toMatchObject({
      state: 'failed',
      attempts: 2,
      next_attempt_time: null,
      finish_time: expect.any(String) as string,
    });
  });

  it('follows no redirect: a 3xx is a failed attempt', async () => {
    subscription = await subscribe();
    receiver.answer = 307;
    await pause();
    clock = Date.now();
    await worker().pass();
    expect(receiver.received).toHaveLength(1);
    expect((await deliveries(subscription.webhook.id))[0]).toMatchObject({ state: 'pending', last_error: 'HTTP 307' });
  });

  it('is sent once when two nodes claim at the same time', async () => {
    subscription = await subscribe();
    for (let i = 0; i < 6; i++) await pause();
    clock = Date.now();
    const [a, b] = [worker({ owner: 'node-a', batch: 2 }), worker({ owner: 'node-b', batch: 2 })];
    const made = await Promise.all([a.pass(), b.pass()]);
    expect(made[0] + made[1]).toBe(6);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(6);
    expect(receiver.received).toHaveLength(6);
    expect((await deliveries(subscription.webhook.id)).map((d) => d.state)).toEqual(Array(6).fill('delivered'));
  });

  it('gets through a short real outage over real HTTP, on the real clock', async () => {
    subscription = await subscribe();
    const live = worker({ intervalMs: 50, now: undefined });
    live.start();
    try {
      receiver.answer = 'down';
      await pause();
      await receiver.waitFor(1);
      receiver.answer = 204;
      const [first, second] = await receiver.waitFor(2, 6000);
      expect([first!.answered, second!.answered]).toEqual([null, 204]);
      expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
      expect(second!.at - first!.at).toBeGreaterThanOrEqual(1900);
      new Webhook(subscription.secret).verify(second!.body, second!.headers as Record<string, string>);
    } finally {
      await live.stop();
    }
    const [delivery] = await deliveries(subscription.webhook.id);
    expect(delivery).toMatchObject({ state: 'delivered', attempts: 2 });
    expect((delivery!.attempt_log as Array<{ status_code: number | null }>)[0]!.status_code).toBeNull();
  });

  describe('a subscription that keeps failing', () => {
    it('is disabled after N failed attempts in a row, audited in the same transaction, and enabled again', async () => {
      subscription = await subscribe();
      const sender = worker({ disableAfter: 3, batch: 1 });
      receiver.answer = 500;
      await pause();
      await pause();
      clock = Date.now();
      await sender.pass(); // both deliveries fail: 2 in a row
      expect((await api('GET', `/webhooks/${subscription.webhook.id}`)).json()).toMatchObject({
        enabled: true,
        consecutive_failures: 2,
      });
      clock += 2000;
      await sender.pass(); // the third disables it; what was still to go is dropped
      const shown = (await api('GET', `/webhooks/${subscription.webhook.id}`)).json();
      const reason = '3 failed attempts in a row; the last: HTTP 500';
      expect(shown).toMatchObject({ enabled: false, disabled_reason: reason, consecutive_failures: 0 });
      const entries = (await auditTrail(core, seed.accountId)).filter(
        (e) => e.target_id === subscription.webhook.id && e.action === 'webhook.disable',
      );
      expect(entries).toEqual([
        expect.objectContaining({
          actor_type: 'system',
          actor_id: 'webhook-worker',
          target_type: 'webhook',
          outcome: 'changed',
          details: {
            host: new URL(receiver.url).host,
            events: ['automation.paused'],
            format: 'standard',
            enabled: false,
            reason,
            consecutive_failures: 3,
            deliveries_dropped: 2,
          },
        }),
      ]);
      expect((await deliveries(subscription.webhook.id)).map((d) => d.state)).toEqual(['dropped', 'dropped']);
      clock += 3_600_000;
      expect(await sender.pass()).toBe(0);
      expect(receiver.received).toHaveLength(3);

      // A disabled subscription gets no new deliveries; enabled again, it does.
      await pause();
      expect(await deliveries(subscription.webhook.id)).toHaveLength(2);
      const enabled = await api('POST', `/webhooks/${subscription.webhook.id}:enable`);
      expect(enabled.json()).toMatchObject({ enabled: true, disabled_reason: null, consecutive_failures: 0 });
      receiver.answer = 204;
      await pause();
      await sender.pass();
      expect((await deliveries(subscription.webhook.id))[0]).toMatchObject({ state: 'delivered', attempts: 1 });
      const enable = (await auditTrail(core, seed.accountId)).find(
        (e) => e.target_id === subscription.webhook.id && e.action === 'webhook.enable',
      );
      expect(enable).toMatchObject({ actor_id: seed.owner.id, outcome: 'changed' });
    });
  });

  it('is dropped when its subscription is removed, and the removal is audited', async () => {
    subscription = await subscribe();
    receiver.answer = 500;
    await pause();
    const removed = await api('DELETE', `/webhooks/${subscription.webhook.id}`);
    expect(removed.statusCode).toBe(204);
    expect(await worker().pass()).toBe(0);
    expect(receiver.received).toHaveLength(0);
    const { rows } = await sql<{ state: string }>`
      SELECT state FROM webhook_deliveries WHERE subscription_id = ${subscription.webhook.id}`.execute(
      core.database.db,
    );
    expect(rows).toEqual([{ state: 'dropped' }]);
    const entry = (await auditTrail(core, seed.accountId)).find(
      (e) => e.target_id === subscription.webhook.id && e.action === 'webhook.remove',
    );
    expect(entry).toMatchObject({ outcome: 'changed', details: { deliveries_dropped: 1, format: 'standard' } });
    expect((await api('GET', `/webhooks/${subscription.webhook.id}`)).statusCode).toBe(404);
  });
});
