import type { GuardStep } from '../plan.js';

/**
 * The account-level pause of all automation (`cordon automation pause`): while paused, no plan executes
 * on its own; each one waits for human approval. The setting was read under a share lock on the
 * account's automation row, which a pause takes for update: a pause waits for the plans in flight,
 * and every plan after it sees it.
 */
export const killSwitch: GuardStep = {
  name: 'kill-switch',
  async run(draft) {
    const { paused_at = null, paused_by, pause_reason } = draft.automation ?? {};
    if (paused_at === null) return { outcome: 'pass', reason: 'automation is running' };
    draft.holds.push('automation_paused');
    return {
      outcome: 'hold',
      reason: 'automation is paused: the plan needs approval',
      details: { paused_by, pause_reason, paused_at: new Date(paused_at).toISOString() },
    };
  },
};
