import type { GuardStep } from '../plan.js';

/**
 * The account-level pause of all automation (`cordon automation pause`): while paused, no plan executes
 * on its own; each one waits for human approval. (The blast-radius step re-reads the pause under the
 * account's automation lock, so a pause that lands during evaluation still holds.)
 */
export const killSwitch: GuardStep = {
  name: 'kill-switch',
  async run(draft) {
    const { paused_at, paused_by, pause_reason } = draft.automation;
    if (paused_at === null) return { outcome: 'pass', reason: 'automation is running' };
    draft.holds.push('automation_paused');
    return { outcome: 'hold', reason: 'automation is paused: the plan needs approval', details: { paused_by, pause_reason, paused_at: new Date(paused_at).toISOString() } };
  },
};
