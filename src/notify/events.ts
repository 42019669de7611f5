/**
 * The webhook events and the one table that maps audit entries to them. Every event is an audit entry
 * its change wrote in the same transaction: the fan-out (notify/fan-out.ts) reads entries as the audit
 * sequencer numbers them, so an event exists if and only if its change committed, and once.
 */
import type { NhiSubject } from '../storage/schema.js';
import type { NumberedEntry } from '../store/audit.js';

export const WEBHOOK_EVENTS = [
  'plan.pending_approval',
  'plan.executed',
  'plan.denied',
  'plan.expired',
  'secret.leaked',
  'containment.opened',
  'containment.partial',
  'containment.restored',
  'breaker.tripped',
  'automation.paused',
] as const;

export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** What each event means, for the API's schema, the CLI's help and the README. */
export const EVENT_MEANINGS: Record<WebhookEvent, string> = {
  'plan.pending_approval': 'a plan (a suspension, or a restore under the restore policy) waits for approvals',
  'plan.executed': 'a plan was carried out: at once (auto mode), or by its last approval',
  'plan.denied': 'a person denied a pending plan',
  'plan.expired': 'a pending plan got no decision within its approval time',
  'secret.leaked':
    "a live secret of the account's (an app's, a source's, a session) was reported found in public: its SHA-256, " +
    "where, its owner and an app's maker",
  'containment.opened':
    "a user was suspended, or a leaked secret's app, source or session contained: a containment record opened",
  'containment.partial': 'a remote step of a containment ended without verifying',
  'containment.restored': 'a contained user was restored, on every target',
  'breaker.tripped': 'a blast-radius breaker tripped: further plans wait for approval',
  'automation.paused': "the account's automation was paused (the kill switch)",
};

/**
 * What an entry of an event is about: a plan, a containment (by id, or the user's latest), a leaked secret
 * (its owner, by the secret's SHA-256), or the account.
 */
export type EventSubject =
  { plan: string } | { containment: string } | { userContainment: string } | { leak: NhiSubject } | 'account';

interface Mapped {
  type: WebhookEvent;
  about: EventSubject;
}

const detail = (entry: NumberedEntry, key: string) => entry.details[key];
const plan = (type: WebhookEvent) => (entry: NumberedEntry) => ({ type, about: { plan: entry.target_id } });

/**
 * The mapping, by audit action (src/audit/actions.ts): an entry of an action listed here, that changed
 * something, is the event its function returns (undefined: no event).
 */
const RULES: Record<string, (entry: NumberedEntry) => Mapped | undefined> = {
  'plan.create': (entry) =>
    detail(entry, 'status') === 'pending_approval'
      ? plan('plan.pending_approval')(entry)
      : detail(entry, 'status') === 'executed'
        ? plan('plan.executed')(entry)
        : undefined,
  // The last approval executes the plan; one before it leaves it pending (no event).
  'plan.approve': (entry) => (detail(entry, 'plan_status') === 'executed' ? plan('plan.executed')(entry) : undefined),
  'plan.deny': plan('plan.denied'),
  'plan.expire': plan('plan.expired'),
  // A restore that waits for people under the restore policy is a plan pending approval.
  'containment.restore_request': (entry) => {
    const planId = detail(entry, 'plan_id');
    const pending = Number(detail(entry, 'approvals')) < Number(detail(entry, 'approvals_required'));
    return pending && typeof planId === 'string'
      ? { type: 'plan.pending_approval', about: { plan: planId } }
      : undefined;
  },
  // Every suspension opens a containment record: the entry names the user, the record is theirs latest.
  'user.suspend': (entry) => ({ type: 'containment.opened', about: { userContainment: entry.target_id } }),
  // A leaked secret's owner contained (response/nhi.ts): the entry names the record.
  'containment.open': (entry) => ({ type: 'containment.opened', about: { containment: entry.target_id } }),
  // Recorded as a read (the report changed nothing by itself): an event all the same.
  'secret.leaked': (entry) => {
    const leak = leakedSubject(entry);
    return leak ? { type: 'secret.leaked', about: { leak } } : undefined;
  },
  'containment.partial': (entry) => ({ type: 'containment.partial', about: { containment: entry.target_id } }),
  'containment.restored': (entry) => ({ type: 'containment.restored', about: { containment: entry.target_id } }),
  // A restore with remote targets ends at their `containment.restored`; one without ends here.
  'containment.restore': (entry) =>
    'targets' in entry.details ? undefined : { type: 'containment.restored', about: { containment: entry.target_id } },
  'automation.breaker_trip': (entry) => {
    const planId = detail(entry, 'plan_id');
    return { type: 'breaker.tripped', about: typeof planId === 'string' ? { plan: planId } : 'account' };
  },
  'automation.pause': () => ({ type: 'automation.paused', about: 'account' }),
};

/** Actions whose entries are events though they record a read: what happened was outside Cordon. */
const READS_THAT_ARE_EVENTS = new Set(['secret.leaked']);

/**
 * A `secret.leaked` entry's secret as a subject (response/nhi.ts nhiSubjectOf): the entry's target is its
 * owner, the app, source or user whose session it is.
 */
function leakedSubject(entry: NumberedEntry): NhiSubject | undefined {
  const tokenHash = detail(entry, 'token_hash');
  const kind = detail(entry, 'kind');
  const credential = detail(entry, 'credential') as { type?: unknown; id?: unknown } | undefined;
  if (typeof tokenHash !== 'string' || typeof kind !== 'string') return undefined;
  const credentialId = typeof credential?.id === 'string' ? credential.id : undefined;
  if (entry.target_type === 'user')
    return credential?.type === 'session' && credentialId
      ? { type: 'session', id: credentialId, user_id: entry.target_id, token_hash: tokenHash, kind }
      : undefined;
  if (entry.target_type !== 'app' && entry.target_type !== 'source') return undefined;
  return {
    type: entry.target_type,
    id: entry.target_id,
    token_hash: tokenHash,
    kind,
    ...(credential?.type === 'events_token' && credentialId
      ? { credential: { type: 'events_token' as const, id: credentialId } }
      : {}),
  };
}

/** The event an audit entry is, if any. */
export function eventOf(entry: NumberedEntry): Mapped | undefined {
  if (!Object.hasOwn(RULES, entry.action)) return undefined;
  const read = entry.outcome === 'read' && READS_THAT_ARE_EVENTS.has(entry.action);
  if (entry.outcome !== 'changed' && !read) return undefined;
  return RULES[entry.action]!(entry);
}

export function isWebhookEvent(name: string): name is WebhookEvent {
  return (WEBHOOK_EVENTS as readonly string[]).includes(name);
}
