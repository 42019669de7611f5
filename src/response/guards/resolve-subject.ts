import type { GuardStep } from '../plan.js';

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
