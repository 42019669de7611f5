/**
 * The registry of audit actions: every action an entry can record, the type of its target, and what it
 * means. Writers name actions from here (the type of `AuditEntryInput.action` and of the route hook's
 * `audited(…)`), the README's table is generated from here (`cordon audit actions`), and the SIEM feed
 * maps entries to OCSF classes from here (audit/feed.ts).
 *
 * An entry's outcome says how it went: `changed`, `unchanged` (asked for what already was), `read`, or
 * `refused`. A refusal that the route hook records (http/audited-calls.ts) names the resource in the
 * request's path as its target (the account, when the path names nothing narrower).
 */

/** The types of audit targets. */
export type AuditTarget =
  | 'account'
  | 'user'
  | 'email'
  | 'group'
  | 'app'
  | 'signing_key'
  | 'source'
  | 'signal'
  | 'plan'
  | 'containment'
  | 'breaker'
  | 'playbook'
  | 'protection_policy'
  | 'address'
  | 'target'
  | 'target_step'
  | 'webhook'
  | 'leak_report';

/** The OCSF 1.x classes of the feed's events; an action names its class and activity, or is API Activity, Other. */
export const OcsfClasses = {
  account_change: {
    class_uid: 3001,
    class_name: 'Account Change',
    category_uid: 3,
    category_name: 'Identity & Access Management',
  },
  api_activity: { class_uid: 6003, class_name: 'API Activity', category_uid: 6, category_name: 'Application Activity' },
} as const;

export interface OcsfMapping {
  class: keyof typeof OcsfClasses;
  activity_id: number;
  activity_name: string;
}

/** What an entry of any action that names no OCSF mapping becomes. */
export const OCSF_DEFAULT: OcsfMapping = { class: 'api_activity', activity_id: 99, activity_name: 'Other' };

interface ActionSpec {
  /** The type of the entry's target; a list when it depends on the case (the first is the usual one). */
  target: AuditTarget | readonly AuditTarget[];
  /** One line: what an entry of this action records. */
  meaning: string;
  /** The OCSF class and activity of its events in the feed (default: `OCSF_DEFAULT`). */
  ocsf?: OcsfMapping;
  /**
   * Its `action` in the Events API feed, where 1Password's audit-event vocabulary has an equivalent
   * (default: the Cordon name itself).
   */
  onePassword?: string;
}

const accountChange = (activity_id: number, activity_name: string): OcsfMapping => ({
  class: 'account_change',
  activity_id,
  activity_name,
});

export const AuditActions = {
  // The directory
  'account.create': {
    target: 'account',
    meaning: 'An account was created (its first owner has entries of their own).',
  },
  'user.create': {
    target: 'user',
    meaning: 'A user was created: by an administrator, an import, or with a new account.',
    ocsf: accountChange(1, 'Create'),
    onePassword: 'create',
  },
  'user.read': {
    target: 'user',
    meaning: "A user's record was read (the Users API, or an administrator's profile view).",
  },
  'user.list': {
    target: 'account',
    meaning: "The account's users were listed (the Users API, or an administrator's list).",
  },
  'user.import': {
    target: 'account',
    meaning: 'An import of users was refused before it began; an import writes one `user.create` per user.',
  },
  'user.update': {
    target: 'user',
    meaning: "A user's email, name, role or externally-managed mark was changed.",
    onePassword: 'update',
  },
  'user.delete': {
    target: 'user',
    meaning: 'A user was deleted, with their sessions and memberships.',
    onePassword: 'delete',
  },
  'user.suspend': {
    target: 'user',
    meaning: 'A user was suspended: their sessions end and a containment record opens.',
    ocsf: accountChange(5, 'Disable'),
    onePassword: 'suspend',
  },
  'user.reactivate': {
    target: 'user',
    meaning: 'A suspended user was reactivated: the containment record closes.',
    ocsf: accountChange(2, 'Enable'),
    onePassword: 'reactivate',
  },
  'user.sessions.read': { target: 'user', meaning: "A user's sessions were listed by an administrator." },
  'user.sign_in': {
    target: ['user', 'email'],
    meaning: 'A sign-in: the session made, or the reason it was refused (target `email` when no user has it).',
  },
  'user.step_up': {
    target: 'user',
    meaning: 'A signed-in person proved a fresh authenticator code before a decision (the purpose), or was refused.',
  },
  'user.password.change': {
    target: 'user',
    meaning: 'A person changed their own password, or was refused (the reason).',
  },
  'user.credentials.reset': {
    target: 'user',
    meaning: "A user's password and TOTP seed were replaced by generated ones.",
    ocsf: accountChange(3, 'Password Change'),
  },
  'session.create': { target: 'user', meaning: 'A session was opened for a user (its id and kind).' },
  'session.revoke': {
    target: 'user',
    meaning: "A user's session was ended, e.g. by signing out (its id and the reason).",
  },
  'group.create': { target: 'group', meaning: 'A group was created.', onePassword: 'create' },
  'group.read': { target: 'group', meaning: 'A group with its members was read by an administrator.' },
  'group.list': { target: 'account', meaning: "The account's groups were listed by an administrator." },
  'group.delete': { target: 'group', meaning: 'A group was deleted, with its memberships.', onePassword: 'delete' },
  'membership.add': { target: 'user', meaning: 'A user was added to a group.' },
  'membership.remove': { target: 'user', meaning: 'A user was removed from a group.' },
  // OAuth apps, tokens and signing keys
  'app.create': { target: 'app', meaning: 'An OAuth app was created, with its permissions and constraints.' },
  'app.disable': { target: 'app', meaning: 'An OAuth app was disabled: its tokens stop working.' },
  'app.secret.rotate': { target: 'app', meaning: "An app's client secret was replaced; the old one stops working." },
  'app.enable': {
    target: 'app',
    meaning: "An app was enabled again by its containment's restore, with a new client secret (never the old one).",
  },
  'app.tokens.revoke': {
    target: 'app',
    meaning: 'Every live access token of an app was revoked by a containment: their jtis and count.',
  },
  'token.issue': {
    target: 'app',
    meaning: 'An access token was issued to an app (client_credentials), or refused (the reason).',
  },
  'token.revoke': { target: 'app', meaning: 'An app revoked one of its access tokens (RFC 7009), or was refused.' },
  'app.events_token.create': {
    target: 'app',
    meaning: 'An events token (a bearer for the Events API feed) was made for an app: its id, features and audience.',
  },
  'app.events_token.revoke': { target: 'app', meaning: "One of an app's events tokens was revoked: it stops working." },
  'key.rotate': {
    target: 'signing_key',
    meaning: 'A new token-signing key signs from now on; the previous one retires (system log).',
  },
  'key.revoke': {
    target: 'signing_key',
    meaning: 'A token-signing key was revoked: the tokens it signed stop working (system log).',
  },
  // The response engine
  'source.create': {
    target: 'source',
    meaning: 'A detection source was registered, with its format and how it authenticates.',
  },
  'source.disable': { target: 'source', meaning: 'A detection source was disabled: its credentials stop working.' },
  'source.secret.rotate': {
    target: 'source',
    meaning: "A detection source's URL token or HMAC secret was replaced by a containment; the old one stops working.",
  },
  'source.enable': {
    target: 'source',
    meaning: "A detection source was enabled again by its containment's restore, with a new URL token or HMAC secret.",
  },
  'signal.receive': {
    target: 'signal',
    meaning: 'A SIEM alert was received and stored with its plan (`unchanged`: a duplicate).',
  },
  'plan.create': {
    target: 'plan',
    meaning: 'The engine made a plan for a signal, with every guard verdict and its status.',
  },
  'plan.approve': {
    target: 'plan',
    meaning: 'A person approved a pending plan, bound to its action digest; the last approval executes it.',
  },
  'plan.deny': { target: 'plan', meaning: 'A person denied a pending plan.' },
  'plan.expire': { target: 'plan', meaning: 'A pending plan got no decision within the approval time.' },
  'plan.void': {
    target: 'plan',
    meaning: 'A pending plan became void: the playbook, policy or containment behind it changed.',
  },
  'containment.restore': {
    target: 'containment',
    meaning: 'A contained user was restored through the containment record, and the result verified.',
  },
  'containment.open': {
    target: 'containment',
    meaning:
      "A non-human identity (a leaked secret's app, source or session) was contained: the action, what was revoked, " +
      'where the leak was found.',
  },
  'containment.secret_read': {
    target: 'containment',
    meaning: 'An OWNER or ADMIN read the new secret a containment made, once (the secret is never recorded).',
  },
  'containment.restore_request': {
    target: 'containment',
    meaning: "A restore was asked for that waits for people's approvals under the restore policy.",
  },
  'containment.contained': {
    target: 'containment',
    meaning: 'Every remote step of a containment verified: the subject is contained on every target.',
  },
  'containment.partial': {
    target: 'containment',
    meaning: 'A remote step ended without verifying (failed, protected by the target): what failed, by target.',
  },
  'containment.restored': {
    target: 'containment',
    meaning: 'Every remote reactivation of a restored containment verified (or ended: gone, nothing to undo).',
  },
  // Targets: the systems a containment acts on
  'target.create': {
    target: 'target',
    meaning: 'A target was connected: its kind and config (its credentials are sealed, never recorded).',
  },
  'target.update': { target: 'target', meaning: "A target's settings changed, or it was disabled or enabled." },
  'target.credentials.rotate': {
    target: 'target',
    meaning: "A target's credentials were replaced (never recorded); the connector's cached token is dropped.",
  },
  'target.remove': {
    target: 'target',
    meaning: 'A target was removed: its access token revoked, its identities forgotten, its steps kept.',
  },
  'target.test': { target: 'target', meaning: "A target's connectivity check: its latency, or the target's error." },
  'target.sync': {
    target: 'target',
    meaning: "A target's users were mirrored (counts), in full or for one subject, or the sync failed.",
  },
  'target.attempt': {
    target: 'target_step',
    meaning: "One attempt of a containment's remote step: the calls, HTTP status, the target's error, latency.",
  },
  'target.step': {
    target: 'target_step',
    meaning: 'A remote step ended: verified (the state read back), protected, gone, failed or cancelled.',
  },
  // Notifications: webhook subscriptions
  'webhook.create': {
    target: 'webhook',
    meaning: 'A webhook subscription was made: its events, format and host (its signing secret is never recorded).',
  },
  'webhook.remove': {
    target: 'webhook',
    meaning: 'A webhook subscription was removed: its deliveries still to go are dropped.',
  },
  'webhook.enable': {
    target: 'webhook',
    meaning: 'A webhook subscription was enabled again; its count of failures in a row starts over.',
  },
  'webhook.disable': {
    target: 'webhook',
    meaning: 'A webhook subscription was disabled after failing attempts in a row (how many, the last error).',
  },
  'user.sessions.revoke_all': {
    target: ['user', 'account'],
    meaning:
      "Global Token Revocation: every session of a user was ended at another system's request (the count, the " +
      'app), or the request was refused (target `account` when no user was found).',
    ocsf: accountChange(99, 'Other'),
  },
  'automation.pause': { target: 'account', meaning: "The account's automation was paused (the kill switch)." },
  'automation.resume': { target: 'account', meaning: "The account's automation was resumed." },
  'automation.breaker_cap': { target: 'account', meaning: "The account's blast-radius cap was changed." },
  'automation.breaker_trip': {
    target: 'breaker',
    meaning: 'A blast-radius breaker tripped: its plans wait for approval.',
  },
  'automation.breaker_reset': {
    target: 'breaker',
    meaning: 'A tripped breaker was reset (the subjects it held back).',
  },
  'automation.restore_policy': {
    target: 'account',
    meaning: "The account's restore policy was set: approvals a restore needs, and the approver group.",
  },
  'playbook.apply': { target: 'playbook', meaning: 'A playbook was applied: a new version when its content changed.' },
  'policy.apply': {
    target: 'protection_policy',
    meaning: 'The protected-principal policy was applied: a new version when its content changed.',
  },
  // Leak reports (response/leaks/)
  'secret.leaked': {
    target: ['app', 'source', 'user'],
    meaning:
      "A live secret of the account's was reported leaked by a code host: its SHA-256, kind, where it was found (the " +
      'secret itself is never recorded).',
  },
  // The system log
  'http.unauthenticated_refusals': {
    target: 'address',
    meaning: "One address's requests refused before they authenticated, counted over a window (system log).",
  },
  'secret.leak_report': {
    target: 'leak_report',
    meaning:
      'A signed leak report from a code host: its key, how many tokens, how many were live secrets (system log).',
  },
} as const satisfies Record<string, ActionSpec>;

export type AuditAction = keyof typeof AuditActions;

/** The registry's entry for an action read back from a log, or undefined for one it does not know. */
export function auditActionSpec(action: string): ActionSpec | undefined {
  return Object.hasOwn(AuditActions, action) ? AuditActions[action as AuditAction] : undefined;
}

/** The OCSF class and activity of an action's events in the feed. */
export function ocsfMappingOf(action: string): OcsfMapping {
  return auditActionSpec(action)?.ocsf ?? OCSF_DEFAULT;
}

/** An action's name in the Events API feed: 1Password's where it has an equivalent, Cordon's otherwise. */
export function onePasswordActionOf(action: string): string {
  return auditActionSpec(action)?.onePassword ?? action;
}

/** The actions table as Markdown, for `cordon audit actions` and the README. */
export function renderAuditActions(): string {
  const cell = (text: string) => text.replaceAll('|', '\\|');
  const rows = Object.entries(AuditActions).map(([action, spec]: [string, ActionSpec]) => {
    const targets = ([] as AuditTarget[])
      .concat(spec.target)
      .map((t) => `\`${t}\``)
      .join(' or ');
    const ocsf = spec.ocsf ?? OCSF_DEFAULT;
    return (
      `| \`${action}\` | ${targets} | ${cell(spec.meaning)} | ${OcsfClasses[ocsf.class].class_name}: ` +
      `${ocsf.activity_name} | ${spec.onePassword ? `\`${spec.onePassword}\`` : ''} |`
    );
  });
  return [
    '| Action | Target | Meaning | OCSF class: activity | Events API `action` |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}
