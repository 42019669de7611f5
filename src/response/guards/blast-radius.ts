import { hasFreeSlot, listBreakers, lockAutomation, tripBreaker, type Cap } from '../../store/automation.js';
import type { Executor } from '../../store/executor.js';
import type { GuardStep, PlanDraft, Verdict } from '../plan.js';

/**
 * The blast-radius breaker: caps on executed suspensions per account and per playbook over a sliding
 * window. The plan that finds a cap reached trips its breaker (audited once); from then on every plan
 * it covers waits for approval, marked as held by it, until an admin resets it.
 *
 * Each cap is a semaphore of slots (store/automation.ts): an executing plan claims one slot per cap,
 * skipping slots other executions hold, in the same statement as the suspension (executor.ts), so
 * concurrent executions neither queue on one lock nor both take the last slot. A cap lowered under
 * executions of a higher one counts those too, in whichever slot they sit (claimSlot). The account's automation row was
 * locked `share` when the plan's context was read: executions run side by side, while a pause or a breaker reset (which
 * lock it for update) waits for those in flight, and every later plan sees it.
 */
export const blastRadius: GuardStep = {
  name: 'blast-radius',
  async run(draft, db) {
    const playbook = draft.playbook!;
    if (playbook.action === 'notify')
      return { outcome: 'pass', reason: 'a notify playbook changes nothing: not counted' };
    // A leaked secret is public: its containment cuts off no person, and it must not wait on a breaker.
    if (draft.nhi) return { outcome: 'pass', reason: 'the caps count suspensions of people: a leaked secret is not' };
    if (playbook.mode === 'approval')
      return { outcome: 'pass', reason: 'approval mode: a person decides, not counted' };
    if (draft.holds.length > 0) return { outcome: 'pass', reason: 'already held for approval: not counted' };
    // The context read locked the automation row; an account without one gets it made and locked here.
    const settings =
      draft.automation ?? (draft.dryRun ? undefined : await lockAutomation(db, draft.accountId, 'share'));

    const caps: Cap[] = [
      {
        scope: 'account',
        max: settings?.breaker_max_actions ?? draft.defaults.breakerMaxActions,
        windowSeconds: settings?.breaker_window_seconds ?? draft.defaults.breakerWindowSeconds,
      },
      ...(playbook.breaker
        ? [
            {
              scope: `playbook:${playbook.name}`,
              max: playbook.breaker.maxActions,
              windowSeconds: playbook.breaker.windowSeconds,
            },
          ]
        : []),
    ];
    const tripped = draft.breakers.filter((b) => caps.some((c) => c.scope === b.scope));
    if (tripped.length > 0) {
      const scopes = tripped.map((b) => b.scope);
      return hold(
        draft,
        tripped.map((b) => b.trip_plan_id),
        `the breaker is tripped (${scopes.join(', ')}): the plan needs approval`,
        { breakers: scopes },
      );
    }
    const limits = Object.fromEntries(caps.map((c) => [c.scope, `${c.max} in ${c.windowSeconds}s`]));
    if (draft.dryRun) {
      for (const cap of caps) if (!(await hasFreeSlot(db, draft.accountId, cap))) return reachedCap(draft, db, cap);
      return { outcome: 'pass', reason: 'under every cap', details: limits };
    }
    // The slots are claimed in the suspension's own statement (executor.ts); a cap found reached there
    // comes back here through reachedCap.
    draft.caps = caps;
    return { outcome: 'pass', reason: 'under every cap', details: limits };
  },
};

/**
 * The cap is reached: trip its breaker (unless another plan just did: then this plan is held by that
 * trip) and hold the plan for approval.
 */
export async function reachedCap(draft: PlanDraft, db: Executor, cap: Cap): Promise<Omit<Verdict, 'step'>> {
  const trip = { scope: cap.scope, max_actions: cap.max, window_seconds: cap.windowSeconds };
  const first =
    draft.dryRun ||
    (await tripBreaker(db, {
      account_id: draft.accountId,
      scope: cap.scope,
      trip_plan_id: draft.id,
      max_actions: cap.max,
      window_seconds: cap.windowSeconds,
    })) !== undefined;
  if (first) draft.tripped = trip;
  const tripId = first
    ? draft.id
    : (await listBreakers(db, draft.accountId)).find((b) => b.scope === cap.scope)!.trip_plan_id;
  return hold(
    draft,
    [tripId],
    `the ${cap.scope} cap of ${cap.max} suspensions in ${cap.windowSeconds}s is reached: the breaker trips, the plan ` +
      `needs approval`,
    trip,
  );
}

/** Holds the plan for approval, marked with the trips (by their plan ids) that held it. */
function hold(draft: PlanDraft, trips: string[], reason: string, details: Record<string, unknown>) {
  draft.holds.push('breaker_tripped');
  draft.heldBy = trips;
  return { outcome: 'hold' as const, reason, details };
}
