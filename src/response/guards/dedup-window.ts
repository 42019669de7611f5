import type { GuardStep } from '../plan.js';

/**
 * One open plan per subject and playbook inside the playbook's dedup window: a second alert about the
 * same user for the same reason never produces a second action, also when both arrive at once (the
 * subject's row lock, taken as the signal was stored, orders them, and the open plans are read after it).
 */
export const dedupWindow: GuardStep = {
  name: 'dedup-window',
  async run(draft) {
    const playbook = draft.playbook!;
    const since = draft.now.getTime() - playbook.dedupWindowSeconds * 1000;
    const open = draft.openPlans.find(
      (p) => p.playbook_name === playbook.name && new Date(p.created_at).getTime() > since,
    )?.id;
    if (open === undefined)
      return {
        outcome: 'pass',
        reason: 'no open plan for this subject and playbook',
        details: { window_seconds: playbook.dedupWindowSeconds },
      };
    return {
      outcome: 'stop',
      status: 'duplicate',
      reason: 'an open plan already covers this subject and playbook',
      details: { open_plan_id: open, window_seconds: playbook.dedupWindowSeconds },
    };
  },
};
