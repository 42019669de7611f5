/**
 * The Events API's sign-in attempts (`POST /api/v1|v2/signinattempts`), read from Cordon's real ones:
 * the `user.sign_in` entries of the log (auth/sign-in.ts writes one for every attempt, with the reason
 * of a refusal). Each becomes an item in 1Password's shape: `category` and `type` from 1Password's
 * vocabulary where it has an equivalent, Cordon's reason otherwise; what Cordon does not know (the
 * country, the location, the client's version) is left out, never sent as "".
 */
import type { NumberedEntry } from '../store/audit.js';
import { entryUuid, eventUser, text, type People } from './feed.js';

/** 1Password's category and type for each of Cordon's refusal reasons (auth/sign-in.ts). */
export const SIGN_IN_OUTCOMES: Record<string, { category: string; type: string; meaning: string }> = {
  success: { category: 'success', type: 'mfa_ok', meaning: 'Password and TOTP code were right: a session was made.' },
  bad_password: { category: 'credentials_failed', type: 'password_secret_bad', meaning: 'Wrong password.' },
  unknown_email: {
    category: 'credentials_failed',
    type: 'password_secret_bad',
    meaning: 'No user has the email (answered like a wrong password).',
  },
  no_credentials: {
    category: 'credentials_failed',
    type: 'no_credentials',
    meaning: 'The user has no password or TOTP seed yet.',
  },
  bad_totp: { category: 'mfa_failed', type: 'totp_bad', meaning: 'Wrong TOTP code.' },
  totp_replayed_or_suspended: {
    category: 'mfa_failed',
    type: 'totp_bad',
    meaning: 'The code was already spent (or the user suspended meanwhile).',
  },
  suspended: { category: 'credentials_failed', type: 'suspended', meaning: 'The user is suspended.' },
  backoff: {
    category: 'credentials_failed',
    type: 'backoff',
    meaning: 'Too many failures: the user is backing off.',
  },
};

/** The table of SIGN_IN_OUTCOMES as Markdown (docs/events-api.md carries it; a test compares). */
export function renderSignInOutcomes(): string {
  return [
    '| Cordon reason | `category` | `type` | When |',
    '| --- | --- | --- | --- |',
    ...Object.entries(SIGN_IN_OUTCOMES).map(
      ([reason, o]) => `| \`${reason}\` | \`${o.category}\` | \`${o.type}\` | ${o.meaning} |`,
    ),
  ].join('\n');
}

const KIND_APP_NAMES: Record<string, string> = {
  web: 'Cordon API',
  cli: 'Cordon CLI',
  console: 'Cordon console',
};

/** One sign-in attempt in the Events API's shape. */
export function toSignInAttempt(entry: NumberedEntry, people: People) {
  const reason = entry.outcome === 'refused' ? text(entry.details.reason) || 'refused' : 'success';
  const outcome = SIGN_IN_OUTCOMES[reason] ?? { category: 'credentials_failed', type: reason };
  const session = text(entry.details.session_id);
  const address = text(entry.details.source_address);
  const appName = KIND_APP_NAMES[text(entry.details.kind)];
  const targetUser =
    entry.target_type === 'user'
      ? eventUser(entry.target_id, people)
      : { ...(entry.target_type === 'email' && entry.target_id !== '' ? { email: entry.target_id } : {}) };
  return {
    uuid: entryUuid(entry),
    ...(session ? { session_uuid: session } : {}),
    timestamp: entry.recorded_at,
    category: outcome.category,
    type: outcome.type,
    ...(entry.outcome === 'refused' ? { details: { value: reason } } : {}),
    target_user: targetUser,
    client: { ...(appName ? { app_name: appName } : {}), ...(address ? { ip_address: address } : {}) },
    account_uuid: entry.account_id,
  };
}
