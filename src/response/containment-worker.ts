/**
 * The containment jobs every node runs, every CORDON_RESTORE_WORKER_INTERVAL_MS:
 *
 * - expire pending plans whose approval time ran out (audited as `plan.expire`);
 * - restore-after: an open containment whose time has come asks for its restore under the restore
 *   policy, as the system (it counts as no approval): with policy 0 it is restored at once, otherwise
 *   a pending restore plan waits for people.
 *
 * The containment record is the job: its restore_after is when it runs. Each due record is taken in a
 * transaction of its own, its rows locked FOR UPDATE SKIP LOCKED (in the restores' lock order: the user,
 * then the record), so any number of nodes share the work without waiting on each other, and a node
 * that dies mid-way leaves the record to the next pass. Expired plans are claimed the same way.
 */
import type { Logger } from 'pino';
import { Periodic } from '../periodic.js';
import type { CallContext } from '../audit/entry.js';
import { isAppError } from '../errors.js';
import { claimExpiredPlans } from '../store/approvals.js';
import { listDueContainments, markRestoreRequested } from '../store/containments.js';
import { endPlan } from './approvals.js';
import type { ResponseDeps } from './engine.js';
import { restoreAfter, RestoreBusy } from './restores.js';

const BATCH = 50;
const RESTORE_AFTER: CallContext = { actor: { type: 'system', id: 'restore-after' }, authz: { method: 'job' } };
const EXPIRY: CallContext = { actor: { type: 'system', id: 'approval-expiry' }, authz: { method: 'job' } };

export class ContainmentWorker {
  private readonly periodic: Periodic;

  constructor(
    private readonly deps: ResponseDeps,
    private readonly options: { intervalMs: number; logger?: Logger | undefined },
  ) {
    this.periodic = new Periodic(
      () => this.pass(),
      options.intervalMs,
      (error) => options.logger?.error({ err: error }, 'containment jobs failed; retrying'),
    );
  }

  start(): void {
    this.periodic.start();
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  /** One pass of both jobs; returns how many plans expired and how many restores were asked for. */
  async pass(): Promise<{ expired: number; restores: number }> {
    let expired = 0;
    for (;;) {
      const n = await this.deps.audit.transact(async (trx) => {
        const due = await claimExpiredPlans(trx, BATCH);
        for (const plan of due) await endPlan(trx, plan, 'expired', EXPIRY);
        return due.length;
      });
      expired += n;
      if (n < BATCH) break;
    }
    let restores = 0;
    // One batch a pass: a record skipped because another node holds its user comes back next pass.
    for (const containment of await listDueContainments(this.deps.db, BATCH)) {
      try {
        if (await restoreAfter(this.deps, RESTORE_AFTER, containment)) restores++;
      } catch (error) {
        if (error instanceof RestoreBusy || (isAppError(error) && error.code === 'CONTAINMENT_CLOSED')) continue;
        if (!isAppError(error)) throw error;
        // A restore that cannot run (it did not verify) is left to people: the record stays open, asked once.
        this.options.logger?.warn({ err: error }, 'a restore-after job was refused');
        await this.deps.audit.transact(async (trx) => {
          await markRestoreRequested(trx, containment.account_id, containment.id);
          await this.deps.audit.append(trx, {
            accountId: containment.account_id,
            ctx: RESTORE_AFTER,
            action: 'containment.restore',
            target: { type: 'containment', id: containment.id },
            outcome: 'refused',
            details: { code: error.code, ...error.metadata },
          });
        });
      }
    }
    return { expired, restores };
  }
}
