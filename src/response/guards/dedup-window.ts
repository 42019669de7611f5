import { findOpenPlan } from '../../store/plans.js';
import type { GuardStep } from '../plan.js';

/**
 * One open plan per subject and playbook inside the playbook's dedup window: a second alert about the
 * same user for the same reason never produces a second action, also when both arrive at once (the
 * subject's row lock, taken when the subject was resolved, orders them).
 */
export const dedupWindow: GuardStep = {
  name: 'dedup-window',
  async run(draft, db) {
    const playbook = draft.playbook!;
    const open = await findOpenPlan(db, draft.accountId, draft.subject!.id, playbook.name, playbook.dedupWindowSeconds);
    if (open === undefined) return { outcome: 'pass', reason: 'no open plan for this subject and playbook', details: { window_seconds: playbook.dedupWindowSeconds } };
    return { outcome: 'stop', status: 'duplicate', reason: 'an open plan already covers this subject and playbook', details: { open_plan_id: open, window_seconds: playbook.dedupWindowSeconds } };
  },
};
