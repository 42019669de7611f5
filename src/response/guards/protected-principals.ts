import { protectionReasons } from '../protection-policy.js';
import type { GuardStep } from '../plan.js';

/**
 * The protected-principal policy (versioned), plus what no policy can lift: the last active owner,
 * externally managed users, and OWNERs and ADMINs for a playbook that only an ADMIN stands behind (its
 * version applied by someone not now an OWNER: a playbook does no more than its author could). A refused
 * plan records what it would have done and why.
 */
export const protectedPrincipals: GuardStep = {
  name: 'protected-principals',
  async run(draft) {
    if (draft.nhi)
      return {
        outcome: 'pass',
        reason: 'a non-human identity: the policy protects people',
        details: { policy_version: draft.policy.version },
      };
    const subject = draft.subject!;
    const lastActiveOwner = subject.role === 'OWNER' && subject.state === 'ACTIVE' && draft.otherActiveOwners === 0;
    const reasons = protectionReasons(draft.policy.document, subject, subject.groups, lastActiveOwner);
    if (draft.playbook!.reachesAdmins === false && subject.role !== 'MEMBER')
      reasons.push('playbook_author:not_an_owner');
    const details = { policy_version: draft.policy.version, ...(reasons.length > 0 ? { reasons } : {}) };
    if (reasons.length === 0) return { outcome: 'pass', reason: 'the subject is not protected', details };
    if (draft.playbook!.action !== 'suspend')
      return { outcome: 'pass', reason: 'the subject is protected; the playbook only notifies', details };
    return {
      outcome: 'stop',
      status: 'refused',
      reason: `the subject is protected (${reasons.join(', ')}): would have suspended`,
      details: { ...details, would_have: 'suspend', user_id: subject.id },
    };
  },
};
