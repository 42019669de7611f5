import { SECRET_LEAKED } from '../intake/canonical.js';
import type { GuardStep, PlanDraft } from '../plan.js';

const HINTS = ['user_id', 'email', 'upn', 'username'] as const;

/**
 * Who the signal is about, from its hints in order of strength: user id, email, UPN (matched against
 * emails: Cordon's users sign in by email), username (the email's local part, only when exactly one
 * user has it). The candidates were read, and locked, as the signal was stored (store/plan-context.ts):
 * the lock orders every plan and Users API call on the subject. An unresolved signal is stored and
 * answered as such, with no action.
 */
export const resolveSubject: GuardStep = {
  name: 'resolve-subject',
  async run(draft) {
    if (draft.signal.type === SECRET_LEAKED) return resolveSecretOwner(draft);
    let ambiguous: string | undefined;
    for (const [rank, hint] of HINTS.entries()) {
      const matches = draft.candidates.filter((c) => c.hint === rank);
      if (matches.length === 1) {
        draft.subject = { ...matches[0]!, groups: [] };
        return { outcome: 'pass', reason: `resolved by ${hint}`, details: { user_id: matches[0]!.id, by: hint } };
      }
      if (matches.length > 1) ambiguous ??= hint;
    }
    const given = Object.keys(draft.signal.subject);
    const reason = ambiguous
      ? `the ${ambiguous} matches more than one user`
      : given.length === 0
        ? 'the signal names no user'
        : 'no user matches the signal';
    return { outcome: 'stop', status: 'no_action', reason, details: { hints: given } };
  },
};

/**
 * A `secret.leaked` signal is about the live secret whose SHA-256 it carries: its owner in the signal's
 * account (an app, a source or a session), read as the signal was stored (response/nhi.ts).
 */
function resolveSecretOwner(draft: PlanDraft) {
  const owner = draft.nhiCandidate;
  if (!owner)
    return {
      outcome: 'stop' as const,
      status: 'no_action' as const,
      reason: 'no live secret of this account has this SHA-256 (never issued, or already revoked or rotated)',
      details: { hints: ['secret.sha256'] },
    };
  draft.nhi = owner;
  return {
    outcome: 'pass' as const,
    reason: `resolved by the secret's SHA-256: ${owner.type} ${owner.id}`,
    details: { nhi: owner, by: 'secret.sha256' },
  };
}
