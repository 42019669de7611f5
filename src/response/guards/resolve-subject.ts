import { countOtherActiveOwners, findUsersByHint, type UserWithGroups } from '../../store/users.js';
import type { Executor } from '../../store/executor.js';
import type { GuardStep } from '../plan.js';

/**
 * Who the signal is about, from its hints in order of strength: user id, email, UPN (matched against
 * emails: Cordon's users sign in by email), username (the email's local part, only when exactly one
 * user has it). The subject's row is locked until the plan's transaction ends, which orders every plan
 * and Users API call on that user. An unresolved signal is stored and answered as such, with no action.
 */
export const resolveSubject: GuardStep = {
  name: 'resolve-subject',
  async run(draft, db) {
    const { subject: hints } = draft.signal;
    const lock = !draft.dryRun;
    const tries: Array<['id' | 'email' | 'local_part', string | undefined, string]> = [
      ['id', hints.user_id, 'user_id'],
      ['email', hints.email, 'email'],
      ['email', hints.upn, 'upn'],
      ['local_part', hints.username, 'username'],
    ];
    let ambiguous: string | undefined;
    for (const [by, value, hint] of tries) {
      if (!value) continue;
      const users = await findUsersByHint(db, draft.accountId, by, value, lock);
      if (users.length === 1) {
        draft.subject = users[0]!;
        return { outcome: 'pass', reason: `resolved by ${hint}`, details: { user_id: users[0]!.id, by: hint } };
      }
      if (users.length > 1) ambiguous = hint;
    }
    const given = Object.keys(hints);
    const reason = ambiguous ? `the ${ambiguous} matches more than one user` : given.length === 0 ? 'the signal names no user' : 'no user matches the signal';
    return { outcome: 'stop', status: 'no_action', reason, details: { hints: given } };
  },
};

/** Whether this (locked or read) user is the account's last active owner. */
export async function isLastActiveOwner(db: Executor, user: UserWithGroups): Promise<boolean> {
  return user.role === 'OWNER' && user.state === 'ACTIVE' && (await countOtherActiveOwners(db, user.account_id, user.id)) === 0;
}
