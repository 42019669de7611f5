/**
 * The webhook delivery worker every node runs: it drains the outbox the fan-out writes.
 *
 * - Claims due deliveries `FOR UPDATE SKIP LOCKED` under a lease (store/webhooks.ts claimDeliveries), so
 *   any number of nodes share them and none sends one twice at once; a delivery left `delivering` by a
 *   dead node is claimed again once its lease ran out.
 * - Sends each with the Standard Webhooks headers (notify/signing.ts): the message id as `webhook-id` on
 *   every retry, the attempt's own timestamp and signature. A 2xx delivers it; anything else is retried
 *   with exponential backoff and jitter (at least the receiver's Retry-After) until its give-up time.
 * - Records every attempt with the delivery's new state in one transaction; a subscription whose attempts
 *   failed CORDON_WEBHOOK_DISABLE_AFTER times in a row is disabled there, audited (`webhook.disable`), and
 *   its deliveries still to go are dropped.
 * - Polls every CORDON_WEBHOOK_WORKER_INTERVAL_MS; `kick()` (after the fan-out commits) sends at once.
 *   Its clock is injectable, so tests can play a long outage without waiting for it.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { CallContext } from '../audit/entry.js';
import type { AuditLog } from '../audit/log.js';
import { isAppError } from '../errors.js';
import { Periodic } from '../periodic.js';
import type { Sealer } from '../sealing.js';
import type { DeliveryState } from '../storage/schema.js';
import type { Executor } from '../store/executor.js';
import {
  claimDeliveries,
  countFailure,
  dropDeliveries,
  insertAttempt,
  setSubscriptionEnabled,
  settleDelivery,
  type ClaimedDelivery,
} from '../store/webhooks.js';
import { EXCERPT_CHARS, postWebhook, type SendResult } from './send.js';
import { webhookHeaders } from './signing.js';
import { webhookEntry, webhookSealLabel } from './subscriptions.js';

export interface WebhookWorkerOptions {
  intervalMs: number;
  /** Per-attempt timeout. */
  timeoutMs: number;
  /** Failed attempts in a row, across deliveries, that disable a subscription. */
  disableAfter: number;
  /** `Cordon/<version>`. */
  userAgent: string;
  /** This node's name in leases (default: host, pid and a random suffix). */
  owner?: string | undefined;
  /** Deliveries claimed at once (default 32). */
  batch?: number | undefined;
  logger?: Logger | undefined;
  /** The retry schedule's clock, in ms (tests: a clock they move). */
  now?: (() => number) | undefined;
  /** The jitter's source (tests). */
  random?: (() => number) | undefined;
  /**
   * Told, once its transaction committed, of each delivery this worker settled: the state it left it in,
   * and whether an attempt was made (not for a drop). The metrics count them.
   */
  onSettled?: ((state: DeliveryState, attempted: boolean) => void) | undefined;
}

const WORKER: CallContext = { actor: { type: 'system', id: 'webhook-worker' }, authz: { method: 'job' } };
/** The first retry's delay; each next doubles, up to RETRY_MAX_MS. */
export const RETRY_BASE_MS = 2_000;
export const RETRY_MAX_MS = 3_600_000;

export interface WebhookDeps {
  db: Executor;
  audit: AuditLog;
  sealer: Sealer;
}

export class WebhookWorker {
  readonly owner: string;
  private readonly periodic: Periodic;
  private running: Promise<number> | undefined;
  private again = false;
  private active = false;
  private readonly now: () => number;

  constructor(
    private readonly deps: WebhookDeps,
    private readonly options: WebhookWorkerOptions,
  ) {
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.now = options.now ?? Date.now;
    this.periodic = new Periodic(
      () => this.pass(),
      options.intervalMs,
      (error) => options.logger?.error({ err: error }, 'the webhook worker failed; retrying'),
    );
  }

  start(): void {
    this.active = true;
    this.periodic.start();
  }

  async stop(): Promise<void> {
    this.active = false;
    await this.periodic.stop();
    await this.running?.catch(() => undefined);
  }

  /** Sends what is due now (the fan-out committed deliveries), without waiting for the next poll. */
  kick(): void {
    if (!this.active) return;
    this.pass().catch((error: unknown) =>
      this.options.logger?.error({ err: error }, 'the webhook worker failed; the next poll retries'),
    );
  }

  /** Claims and sends everything due, to the end; resolves with the attempts made. */
  async pass(): Promise<number> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.drain();
    try {
      return await this.running;
    } finally {
      this.running = undefined;
      if (this.again && this.active) {
        this.again = false;
        this.kick();
      }
    }
  }

  private async drain(): Promise<number> {
    const batch = this.options.batch ?? 32;
    let total = 0;
    for (;;) {
      const now = this.now();
      const claimed = await claimDeliveries(this.deps.db, {
        owner: this.owner,
        now: new Date(now),
        leaseUntil: new Date(now + this.options.timeoutMs + 10_000),
        limit: batch,
      });
      await Promise.all(claimed.map((delivery) => this.deliver(delivery).catch((error) => this.fail(delivery, error))));
      total += claimed.length;
      if (claimed.length < batch) return total;
    }
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    const held = { account_id: delivery.account_id, id: delivery.id, owner: this.owner };
    if (!delivery.sendable) {
      const dropped = await settleDelivery(this.deps.db, held, {
        state: 'dropped',
        last_error: 'the subscription was disabled or removed',
        finished_at: new Date(this.now()),
      });
      if (dropped) this.options.onSettled?.('dropped', false);
      return;
    }
    const secret = this.deps.sealer.open(
      webhookSealLabel(delivery.account_id, delivery.subscription_id),
      delivery.secret,
    );
    const body = delivery.format === 'slack' ? (delivery.slack_payload ?? delivery.payload) : delivery.payload;
    const attemptedAt = new Date(this.now());
    const headers = webhookHeaders(secret, delivery.message_id, Math.floor(attemptedAt.getTime() / 1000), body);
    const result = await postWebhook(delivery.url, body, headers, {
      timeoutMs: this.options.timeoutMs,
      userAgent: this.options.userAgent,
    });
    await this.record(delivery, attemptedAt, result);
  }

  /**
   * An attempt that could not be made (its secret would not open under this KEK, say) is recorded as a
   * failed one, so that the delivery is retried on schedule rather than at every lease's end.
   */
  private async fail(delivery: ClaimedDelivery, error: unknown): Promise<void> {
    this.options.logger?.error({ err: error, delivery_id: delivery.id }, 'a webhook attempt could not be made');
    // The log shows the client-safe description only; the rest is in the process's log.
    const why = isAppError(error) ? error.description : 'an internal error (see the logs)';
    const reason = `cannot send: ${why}`.slice(0, EXCERPT_CHARS);
    await this.record(delivery, new Date(this.now()), {
      status: null,
      latencyMs: 0,
      error: reason,
      excerpt: null,
      retryAfterMs: null,
    });
  }

  /** The attempt, the delivery's new state and the subscription's failure count, in one transaction. */
  private async record(delivery: ClaimedDelivery, attemptedAt: Date, result: SendResult): Promise<void> {
    const ok = result.error === null;
    const held = { account_id: delivery.account_id, id: delivery.id, owner: this.owner };
    const now = this.now();
    const next = now + this.retryDelay(delivery.attempts, result.retryAfterMs);
    const givingUp = !ok && next > delivery.give_up_at.getTime();
    const state: DeliveryState = ok ? 'delivered' : givingUp ? 'failed' : 'pending';
    const { settled, disabled } = await this.deps.audit.transact(async (trx) => {
      await insertAttempt(trx, {
        account_id: delivery.account_id,
        delivery_id: delivery.id,
        attempt: delivery.attempts,
        attempted_at: attemptedAt,
        status_code: result.status,
        latency_ms: result.latencyMs,
        error: result.error,
        response_excerpt: result.excerpt,
      });
      const settled = await settleDelivery(trx, held, {
        state,
        ...(ok || givingUp ? {} : { next_attempt_at: new Date(next) }),
        last_error: result.error,
        finished_at: ok || givingUp ? new Date(now) : null,
      });
      const failures = await countFailure(trx, delivery.account_id, delivery.subscription_id, !ok);
      if (ok || failures < this.options.disableAfter) return { settled, disabled: false };
      return { settled, disabled: await this.disable(trx, delivery, failures, result) };
    });
    if (settled) this.options.onSettled?.(state, true);
    this.options.logger?.[ok ? 'info' : 'warn'](
      {
        account_id: delivery.account_id,
        webhook_id: delivery.subscription_id,
        message_id: delivery.message_id,
        delivery_id: delivery.id,
        event: delivery.event_type,
        attempt: delivery.attempts,
        status: result.status,
        latency_ms: result.latencyMs,
        error: result.error,
        ...(ok ? {} : givingUp ? { gave_up: true } : { next_attempt_at: new Date(next).toISOString() }),
        ...(disabled ? { subscription_disabled: true } : {}),
      },
      ok ? 'webhook delivered' : 'webhook attempt failed',
    );
  }

  private async disable(
    trx: Parameters<Parameters<AuditLog['transact']>[0]>[0],
    delivery: ClaimedDelivery,
    failures: number,
    result: SendResult,
  ): Promise<boolean> {
    const reason = `${failures} failed attempts in a row; the last: ${result.error ?? 'unknown'}`;
    const row = await setSubscriptionEnabled(trx, delivery.account_id, delivery.subscription_id, false, reason);
    if (!row) return false;
    const dropped = await dropDeliveries(trx, delivery.account_id, delivery.subscription_id);
    await this.deps.audit.append(
      trx,
      webhookEntry(WORKER, row, 'webhook.disable', {
        reason,
        consecutive_failures: failures,
        deliveries_dropped: dropped,
      }),
    );
    return true;
  }

  /** Exponential backoff with ±20% jitter, at least the receiver's Retry-After (capped at RETRY_MAX_MS). */
  retryDelay(attempts: number, retryAfterMs: number | null): number {
    const base = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(attempts - 1, 30));
    const jittered = base * (0.8 + 0.4 * (this.options.random ?? Math.random)());
    return Math.round(Math.min(RETRY_MAX_MS, Math.max(jittered, retryAfterMs ?? 0)));
  }
}
