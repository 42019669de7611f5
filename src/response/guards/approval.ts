import { actionDigest, type GuardStep } from '../plan.js';

/**
 * Whether a human must approve: the playbook's approval mode, or a hold from an earlier step (the kill
 * switch, a tripped breaker). A pending plan is stored with the digest of its exact action.
 */
export const approval: GuardStep = {
  name: 'approval',
  async run(draft) {
    const playbook = draft.playbook!;
    if (playbook.action === 'notify') return { outcome: 'pass', reason: 'a notify playbook needs no approval' };
    if (playbook.mode === 'approval') draft.holds.push('playbook_mode');
    if (draft.holds.length === 0) return { outcome: 'pass', reason: 'auto mode, nothing held the plan' };
    const required = Math.max(1, playbook.approvals);
    return {
      outcome: 'stop',
      status: 'pending_approval',
      reason: `needs ${required} approval${required > 1 ? 's' : ''} (${draft.holds.join(', ')})`,
      details: { approvals_required: required, holds: [...draft.holds], action_digest: actionDigest(draft) },
    };
  },
};
