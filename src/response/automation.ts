/**
 * The account's automation controls: the kill switch (pause / resume), the account's blast-radius cap,
 * and resetting tripped breakers. Each takes the account's automation lock, the one executing plans
 * hold, so a pause or a reset is ordered with respect to every execution; each is audited.
 */
import type { CallContext } from '../audit/entry.js';
import type { DirectoryDeps } from '../directory/deps.js';
import { AppError } from '../errors.js';
import {
  deleteBreakers,
  lockAutomation,
  updateAutomation,
  type AutomationSettings,
  type BreakerRow,
} from '../store/automation.js';
import { listHeldSubjects } from '../store/plans.js';

export async function setPaused(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  paused: boolean,
  reason?: string,
): Promise<AutomationSettings> {
  return deps.audit.transact(async (trx) => {
    const current = await lockAutomation(trx, accountId);
    const action = paused ? 'automation.pause' : 'automation.resume';
    if ((current.paused_at !== null) === paused) {
      await deps.audit.append(trx, {
        accountId,
        ctx,
        action,
        target: { type: 'account', id: accountId },
        outcome: 'unchanged',
      });
      return current;
    }
    const updated = await updateAutomation(
      trx,
      accountId,
      paused
        ? { paused_at: new Date(), paused_by: `${ctx.actor.type}:${ctx.actor.id}`, pause_reason: reason ?? null }
        : { paused_at: null, paused_by: null, pause_reason: null },
    );
    await deps.audit.append(trx, {
      accountId,
      ctx,
      action,
      target: { type: 'account', id: accountId },
      outcome: 'changed',
      details: reason ? { reason } : {},
    });
    return updated;
  });
}

export async function setBreakerCap(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  cap: { max_actions: number; window_seconds: number },
): Promise<AutomationSettings> {
  return deps.audit.transact(async (trx) => {
    const current = await lockAutomation(trx, accountId);
    const updated = await updateAutomation(trx, accountId, {
      breaker_max_actions: cap.max_actions,
      breaker_window_seconds: cap.window_seconds,
    });
    const from = { max_actions: current.breaker_max_actions, window_seconds: current.breaker_window_seconds };
    await deps.audit.append(trx, {
      accountId,
      ctx,
      action: 'automation.breaker_cap',
      target: { type: 'account', id: accountId },
      outcome: 'changed',
      details: { from, to: cap },
    });
    return updated;
  });
}

/** Resets the tripped breakers (all, or one scope); the entry lists every subject they held back. */
export async function resetBreakers(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  scope?: string,
): Promise<BreakerRow[]> {
  return deps.audit.transact(async (trx) => {
    await lockAutomation(trx, accountId);
    const reset = await deleteBreakers(trx, accountId, scope);
    if (scope !== undefined && reset.length === 0)
      throw new AppError('NOT_FOUND', { description: `no tripped breaker ${scope}` });
    for (const breaker of reset) {
      await deps.audit.append(trx, {
        accountId,
        ctx,
        action: 'automation.breaker_reset',
        target: { type: 'breaker', id: breaker.scope },
        outcome: 'changed',
        details: {
          tripped_at: new Date(breaker.tripped_at).toISOString(),
          trip_plan_id: breaker.trip_plan_id,
          held: await listHeldSubjects(trx, accountId, breaker.trip_plan_id),
        },
      });
    }
    return reset;
  });
}
