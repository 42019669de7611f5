/**
 * The containment jobs every node runs, every CORDON_RESTORE_WORKER_INTERVAL_MS:
 *
 * - expire pending plans whose approval time ran out (audited as `plan.expire`);
 * - restore-after: an open containment whose time has come asks for its restore under the restore
 *   policy, as the system (it counts as no approval): with policy 0 it is restored at once, otherwise
 *   a pending restore plan waits for people.
 *
 * The containment record is the job: its restore_after is when it runs, and rows are claimed with
 * FOR UPDATE SKIP LOCKED, one transaction each, so any number of nodes share the work and a node that
 * dies mid-way leaves the row to the next pass.
 */
import type { Logger } from 'pino';
import type { CallContext } from '../audit/entry.js';
import { isAppError } from '../errors.js';
import { claimExpiredPlans } from '../store/approvals.js';
import { claimDueContainments, markRestoreRequested, type ContainmentRow } from '../store/containments.js';
import { endPlan } from './approvals.js';
import type { ResponseDeps } from './engine.js';
import { requestRestoreLocked } from './restores.js';

const BATCH = 50;
const RESTORE_AFTER: CallContext = { actor: { type: 'system', id: 'restore-after' }, authz: { method: 'job' } };
const EXPIRY: CallContext = { actor: { type: 'system', id: 'approval-expiry' }, authz: { method: 'job' } };

export class ContainmentWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly deps: ResponseDeps,
    private readonly options: { intervalMs: number; logger?: Logger | undefined },
  ) {}

  start(): void {
    this.timer ??= setInterval(() => {
      this.running ??= this.pass()
        .catch((error: unknown) => this.options.logger?.error({ err: error }, 'containment jobs failed; retrying'))
        .finally(() => (this.running = undefined));
    }, this.options.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass of both jobs; returns how many plans expired and how many restores were asked for. */
  async pass(): Promise<{ expired: number; restores: number }> {
    let expired = 0;
    for (;;) {
      const n = await this.deps.audit.transact(async (trx) => {
        const due = await claimExpiredPlans(trx, BATCH);
        for (const plan of due) await endPlan(this.deps, trx, plan, 'expired', EXPIRY);
        return due.length;
      });
      expired += n;
      if (n < BATCH) break;
    }
    let restores = 0;
    for (;;) {
      let containment: ContainmentRow | undefined;
      const claimed = await this.deps.audit
        .transact(async (trx) => {
          [containment] = await claimDueContainments(trx, 1);
          if (!containment) return false;
          await requestRestoreLocked(this.deps, trx, RESTORE_AFTER, undefined, containment, 'restored');
          return true;
        })
        .catch(async (error: unknown) => {
          if (!isAppError(error) || !containment) throw error;
          // A restore that cannot run (it did not verify) is left to people: the record stays open, asked once.
          await this.deps.audit.transact(async (trx) => {
            await markRestoreRequested(trx, containment!.account_id, containment!.id);
            await this.deps.audit.append(trx, { accountId: containment!.account_id, ctx: RESTORE_AFTER, action: 'containment.restore', target: { type: 'containment', id: containment!.id }, outcome: 'refused', details: { code: error.code, ...error.metadata } });
          });
          return true;
        });
      if (!claimed) break;
      restores++;
    }
    return { expired, restores };
  }
}
