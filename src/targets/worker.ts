/**
 * The step worker every node runs: it carries a containment's remote steps out after their plan commits.
 *
 * - Claims due steps `FOR UPDATE SKIP LOCKED` under a lease (store/steps.ts claimSteps): any number of
 *   nodes share the steps and none runs one twice at once. The claim opens the attempt (attempt_open) and
 *   commits before any call; an attempt found open under a dead lease (a node died between its call and
 *   its record) is recorded as `interrupted` first, and the step is tried again: the targets' suspend and
 *   reactivate are idempotent, so a step takes effect once.
 * - Runs each attempt against the target's connector (targets/attempt.ts), extending its lease every
 *   third of CORDON_TARGET_LEASE_MS while the attempt runs, then records it in one transaction
 *   (targets/record.ts).
 * - Holds each target to its max_concurrency (in the claim: at most that many of its steps at once on
 *   this node) and max_rate_per_second (attempts started, in process).
 * - Polls every CORDON_TARGET_WORKER_INTERVAL_MS; `kick()` after a commit that wrote steps starts them at
 *   once on this node, and a retry this node scheduled wakes it at its time.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/log.js';
import { Periodic } from '../periodic.js';
import type { Executor } from '../store/executor.js';
import { claimSteps, extendLease, findTargets, type ClaimedStep } from '../store/steps.js';
import type { TargetRow } from '../store/targets.js';
import { retryDelayMs, runAttempt, type AttemptResult } from './attempt.js';
import type { Connector } from './connector.js';
import { interruptedEntry, recordAttempt, recordExpired } from './record.js';

/** The connector of a target (H3's cache in targets/connectors.ts, keyed by id and credential rotation). */
export type OpenConnector = (target: TargetRow) => Connector;

export interface StepWorkerOptions {
  intervalMs: number;
  leaseMs: number;
  /** This node's name in leases (default: host, pid and a random suffix). */
  owner?: string | undefined;
  /** Steps claimed at once (default 64). */
  batch?: number | undefined;
  logger?: Logger | undefined;
  /** The jitter's source (tests). */
  random?: (() => number) | undefined;
}

export class StepWorker {
  readonly owner: string;
  private readonly periodic: Periodic;
  private readonly running = new Set<Promise<void>>();
  private readonly inFlight = new Map<string, number>();
  /** Per target: when the next attempt may start (max_rate_per_second). */
  private readonly nextStart = new Map<string, number>();
  /** The kicks armed for retries' times (wakeAt). */
  private readonly wakes = new Set<NodeJS.Timeout>();
  private claiming: Promise<Array<Promise<void>>> | undefined;
  private again = false;
  /** Started as a service (start()): it claims on its own, and again whenever an attempt frees a slot. */
  private active = false;

  constructor(
    private readonly deps: { db: Executor; audit: AuditLog },
    private readonly openConnector: OpenConnector,
    private readonly options: StepWorkerOptions,
  ) {
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.periodic = new Periodic(
      () => this.dispatch(),
      options.intervalMs,
      (error) => options.logger?.error({ err: error }, 'the step worker failed to claim; retrying'),
    );
  }

  start(): void {
    this.active = true;
    this.periodic.start();
  }

  /** Stops claiming and waits for the attempts in flight to be recorded. */
  async stop(): Promise<void> {
    this.active = false;
    for (const timer of this.wakes) clearTimeout(timer);
    this.wakes.clear();
    await this.periodic.stop();
    await this.claiming?.then(
      () => undefined,
      () => undefined,
    );
    await Promise.allSettled([...this.running]);
  }

  /** Claims now (a commit wrote steps): they start on this node without waiting for the next poll. */
  kick(): void {
    if (!this.active) return;
    this.dispatch().then(
      () => undefined,
      (error: unknown) =>
        this.options.logger?.error({ err: error }, 'the step worker failed to claim; the next poll retries'),
    );
  }

  /** One claim, and every attempt it started, to the end (tests and the CLI's one-shot runs). */
  async pass(): Promise<number> {
    const started = await this.dispatch();
    await Promise.allSettled(started);
    return started.length;
  }

  /** Claims and starts what is due; resolves with the attempts started (not awaited). */
  private async dispatch(): Promise<Array<Promise<void>>> {
    if (this.claiming) {
      this.again = true;
      return this.claiming;
    }
    this.claiming = this.claimAndStart();
    try {
      const started = await this.claiming;
      return started;
    } finally {
      this.claiming = undefined;
      if (this.again && this.active) {
        this.again = false;
        this.kick();
      }
    }
  }

  private async claimAndStart(): Promise<Array<Promise<void>>> {
    const { audit } = this.deps;
    const claimed = await audit.transact(async (trx) => {
      const rows = await claimSteps(trx, {
        owner: this.owner,
        leaseMs: this.options.leaseMs,
        limit: this.options.batch ?? 64,
        inFlight: this.inFlight,
      });
      const interrupted = rows.filter((r) => r.interrupted);
      if (interrupted.length > 0) await audit.append(trx, interrupted.map(interruptedEntry));
      return rows;
    });
    const acting = claimed.filter((s) => s.status === 'pending');
    const targets = new Map(
      (
        await findTargets(
          this.deps.db,
          [...new Set(acting.map((s) => `${s.account_id} ${s.target_id}`))].map(
            (k) => k.split(' ') as [string, string],
          ),
        )
      ).map((t) => [t.id, t]),
    );
    const started: Array<Promise<void>> = [];
    for (const step of acting) {
      this.inFlight.set(step.target_id, (this.inFlight.get(step.target_id) ?? 0) + 1);
      const run = this.run(step, targets.get(step.target_id))
        .catch((error: unknown) =>
          this.options.logger?.error({ err: error, step_id: step.id }, 'a step attempt could not be recorded'),
        )
        .finally(() => {
          this.running.delete(run);
          const n = (this.inFlight.get(step.target_id) ?? 1) - 1;
          if (n > 0) this.inFlight.set(step.target_id, n);
          else this.inFlight.delete(step.target_id);
          // A slot of this target is free: another of its steps may be waiting.
          this.kick();
        });
      this.running.add(run);
      started.push(run);
    }
    return started;
  }

  private async run(step: ClaimedStep, target: TargetRow | undefined): Promise<void> {
    if (step.expired) return recordExpired(this.deps.audit, step, this.owner);
    let result: AttemptResult;
    if (!target || target.removed_at !== null) result = refusal('fatal', 'the target was removed');
    else if (!target.enabled) result = refusal('retry', 'the target is disabled');
    else {
      await this.rateLimit(target);
      let connector: Connector;
      try {
        connector = this.openConnector(target);
      } catch (error) {
        result = refusal('retry', `the connector could not be opened: ${String(error).slice(0, 300)}`);
        return this.record(step, result);
      }
      // A slow target (a long resolve walk) must not lose the step to another node mid-attempt.
      const heartbeat = setInterval(() => {
        extendLease(this.deps.db, step, this.owner, this.options.leaseMs).catch((error: unknown) =>
          this.options.logger?.warn({ err: error, step_id: step.id }, "a step's lease could not be extended"),
        );
      }, this.options.leaseMs / 3);
      try {
        result = await runAttempt(connector, step);
      } finally {
        clearInterval(heartbeat);
      }
    }
    return this.record(step, result);
  }

  private async record(step: ClaimedStep, result: AttemptResult): Promise<void> {
    let next: Date | null = null;
    if (result.status === 'pending') {
      const delay = retryDelayMs(step.attempts, result.retryAfterMs, this.options.random);
      // Past the deadline the next claim ends the step failed, without a call.
      next = new Date(Math.min(Date.now() + delay, new Date(step.deadline_at).getTime()));
    }
    if ((await recordAttempt(this.deps.audit, step, this.owner, result, next)) && next) this.wakeAt(next.getTime());
  }

  /** Kicks at a retry's time, so that a step waiting out its Retry-After starts then, not at the next poll. */
  private wakeAt(at: number): void {
    if (!this.active) return;
    const timer = setTimeout(
      () => {
        this.wakes.delete(timer);
        this.kick();
      },
      Math.max(0, at - Date.now()) + 5,
    );
    timer.unref();
    this.wakes.add(timer);
  }

  /** Waits for this target's next start slot (max_rate_per_second). */
  private async rateLimit(target: TargetRow): Promise<void> {
    const gap = 1000 / target.max_rate_per_second;
    const now = Date.now();
    const at = Math.max(now, this.nextStart.get(target.id) ?? 0);
    this.nextStart.set(target.id, at + gap);
    if (at > now) await new Promise((resolve) => setTimeout(resolve, at - now));
  }
}

function refusal(cls: 'fatal' | 'retry', message: string): AttemptResult {
  return {
    outcome: cls === 'fatal' ? 'failed' : 'retry',
    status: cls === 'fatal' ? 'failed' : 'pending',
    external_id: null,
    observed_state: null,
    drift: null,
    error: { class: cls, status: null, code: null, message, request_id: null },
    retryAfterMs: undefined,
    calls: [],
    latency_ms: 0,
  };
}
