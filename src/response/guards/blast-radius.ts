import { claimSlot, hasFreeSlot, listBreakers, lockAutomation, releaseSlot, tripBreaker, type Cap } from '../../store/automation.js';
import type { GuardStep } from '../plan.js';

/**
 * The blast-radius breaker: caps on executed suspensions per account and per playbook over a sliding
 * window. The plan that finds a cap reached trips its breaker (audited once); from then on every plan
 * it covers waits for approval, marked as held by it, until an admin resets it.
 *
 * Each cap is a semaphore of slots (store/automation.ts, claimSlot): an executing plan claims one slot
 * per cap in its own transaction, skipping slots other executions hold, so concurrent executions neither
 * queue on one lock nor both take the last slot. The account's automation row was locked `share` when
 * the plan's context was read: executions run side by side, while a pause or a breaker reset (which
 * lock it for update) waits for those in flight, and every later plan sees it.
 */
export const blastRadius: GuardStep = {
  name: 'blast-radius',
  async run(draft, db) {
    const playbook = draft.playbook!;
    if (playbook.action !== 'suspend') return { outcome: 'pass', reason: 'a notify playbook changes nothing: not counted' };
    if (playbook.mode === 'approval') return { outcome: 'pass', reason: 'approval mode: a person decides, not counted' };
    if (draft.holds.length > 0) return { outcome: 'pass', reason: 'already held for approval: not counted' };
    // The context read locked the automation row; an account without one gets it made and locked here.
    const settings = draft.automation ?? (draft.dryRun ? undefined : await lockAutomation(db, draft.accountId, 'share'));

    const caps: Cap[] = [
      { scope: 'account', max: settings?.breaker_max_actions ?? draft.defaults.breakerMaxActions, windowSeconds: settings?.breaker_window_seconds ?? draft.defaults.breakerWindowSeconds },
      ...(playbook.breaker ? [{ scope: `playbook:${playbook.name}`, max: playbook.breaker.maxActions, windowSeconds: playbook.breaker.windowSeconds }] : []),
    ];
    const tripped = draft.breakers.filter((b) => caps.some((c) => c.scope === b.scope));
    if (tripped.length > 0) {
      const scopes = tripped.map((b) => b.scope);
      return hold(draft, tripped.map((b) => b.trip_plan_id), `the breaker is tripped (${scopes.join(', ')}): the plan needs approval`, { breakers: scopes });
    }

    const claimed: Array<{ cap: Cap; slot: { slot: number; previous: Date | null } }> = [];
    for (const cap of caps) {
      const free = draft.dryRun ? ((await hasFreeSlot(db, draft.accountId, cap)) ? { slot: 0, previous: null } : undefined) : await claimSlot(db, draft.accountId, cap, draft.id);
      if (free) {
        claimed.push({ cap, slot: free });
        continue;
      }
      // The cap is reached: give back what this plan claimed, trip the breaker (unless another plan just did).
      if (!draft.dryRun) for (const c of claimed) await releaseSlot(db, draft.accountId, c.cap.scope, c.slot);
      const trip = { scope: cap.scope, max_actions: cap.max, window_seconds: cap.windowSeconds };
      const first = draft.dryRun || (await tripBreaker(db, { account_id: draft.accountId, scope: cap.scope, trip_plan_id: draft.id, max_actions: cap.max, window_seconds: cap.windowSeconds })) !== undefined;
      if (first) draft.tripped = trip;
      const tripId = first ? draft.id : (await listBreakers(db, draft.accountId)).find((b) => b.scope === cap.scope)!.trip_plan_id;
      return hold(draft, [tripId], `the ${cap.scope} cap of ${cap.max} suspensions in ${cap.windowSeconds}s is reached: the breaker trips, the plan needs approval`, trip);
    }
    return { outcome: 'pass', reason: 'under every cap', details: Object.fromEntries(claimed.map((c) => [c.cap.scope, `${c.cap.max} in ${c.cap.windowSeconds}s`])) };
  },
};

/** Holds the plan for approval, marked with the trips (by their plan ids) that held it. */
function hold(draft: Parameters<GuardStep['run']>[0], trips: string[], reason: string, details: Record<string, unknown>) {
  draft.holds.push('breaker_tripped');
  draft.heldBy = trips;
  return { outcome: 'hold' as const, reason, details };
}
