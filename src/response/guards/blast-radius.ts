import { holdOnBreakers, listBreakers, lockAutomation, tripBreaker } from '../../store/automation.js';
import { countExecutions } from '../../store/plans.js';
import type { GuardStep } from '../plan.js';

/**
 * The blast-radius breaker: caps on executed suspensions per account and per playbook over a sliding
 * window. The plan that would exceed a cap trips its breaker (audited once, with the subject it held);
 * from then on every plan it covers waits for approval, and is listed as held, until an admin resets it.
 *
 * Counting and executing must agree under concurrency, so an executing plan holds the account's
 * automation row lock from here to its commit: executions in one account are ordered, and no two plans
 * can both see "one below the cap". The pause is re-read under the same lock.
 */
export const blastRadius: GuardStep = {
  name: 'blast-radius',
  async run(draft, db) {
    const playbook = draft.playbook!;
    if (playbook.action !== 'suspend') return { outcome: 'pass', reason: 'a notify playbook changes nothing: not counted' };
    if (playbook.mode === 'approval') return { outcome: 'pass', reason: 'approval mode: a person decides, not counted' };
    const settings = draft.dryRun ? draft.automation : await lockAutomation(db, draft.accountId);
    if (settings.paused_at !== null && !draft.holds.includes('automation_paused')) {
      draft.holds.push('automation_paused');
      return { outcome: 'hold', reason: 'automation was paused meanwhile: the plan needs approval' };
    }
    if (draft.holds.length > 0) return { outcome: 'pass', reason: 'already held for approval: not counted' };

    const scopes = ['account', `playbook:${playbook.name}`];
    const tripped = (await listBreakers(db, draft.accountId)).filter((b) => scopes.includes(b.scope)).map((b) => b.scope);
    if (tripped.length > 0) {
      if (!draft.dryRun) await holdOnBreakers(db, draft.accountId, tripped, draft.subject!.id);
      draft.holds.push('breaker_tripped');
      draft.heldBy = tripped;
      return { outcome: 'hold', reason: `the breaker is tripped (${tripped.join(', ')}): the plan needs approval`, details: { breakers: tripped } };
    }

    const caps = [
      { scope: 'account', max: settings.breaker_max_actions ?? draft.defaults.breakerMaxActions, window: settings.breaker_window_seconds ?? draft.defaults.breakerWindowSeconds },
      ...(playbook.breaker ? [{ scope: `playbook:${playbook.name}`, max: playbook.breaker.maxActions, window: playbook.breaker.windowSeconds }] : []),
    ];
    const counted: Record<string, string> = {};
    for (const cap of caps) {
      const count = await countExecutions(db, draft.accountId, cap.window, cap.scope === 'account' ? undefined : playbook.name);
      counted[cap.scope] = `${count}/${cap.max} in ${cap.window}s`;
      if (count < cap.max) continue;
      draft.holds.push('breaker_tripped');
      draft.heldBy = [cap.scope];
      const trip = { scope: cap.scope, count, max_actions: cap.max, window_seconds: cap.window };
      // Another plan may have tripped it a moment ago (it committed after our read): then this one is held, not a second trip.
      if (!draft.dryRun) {
        const row = await tripBreaker(db, { account_id: draft.accountId, scope: cap.scope, trip_plan_id: draft.id, max_actions: cap.max, window_seconds: cap.window, held: [draft.subject!.id] });
        if (row) draft.tripped = trip;
        else await holdOnBreakers(db, draft.accountId, [cap.scope], draft.subject!.id);
      } else draft.tripped = trip;
      return { outcome: 'hold', reason: `the ${cap.scope} cap of ${cap.max} suspensions in ${cap.window}s is reached: the breaker trips, the plan needs approval`, details: trip };
    }
    return { outcome: 'pass', reason: 'under every cap', details: counted };
  },
};
