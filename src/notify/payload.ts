/**
 * The bodies of a webhook message, rendered once when the audit entry fans out (so that every retry
 * sends the same bytes): the Standard Webhooks shape (`type`, `timestamp`, `data`), and Slack's
 * incoming-webhook JSON (`text` and `blocks`, with a button to the console). Never a secret: a message
 * says which plan, containment, subject and signal, and links to the console. A leaked secret is named by
 * its SHA-256 and its owner (an app with its maker, whom the event is for; a source; a session's person),
 * never by itself, and the new secret a containment made never leaves Cordon but through its one read.
 */
import type { NumberedEntry } from '../store/audit.js';
import type { EventContext } from '../store/webhook-context.js';
import type { WebhookEvent } from './events.js';

export interface EventData {
  account_id: string;
  audit_index: number;
  plan_id?: string;
  containment_id?: string;
  breaker?: string;
  reason?: string;
  subject?: Person;
  /** A leaked secret's owner, a non-human identity: the secret's SHA-256 and kind, never the secret. */
  nhi?: {
    type: 'app' | 'source' | 'session';
    id: string;
    /** The app's or source's name. */
    name: string | null;
    token_hash: string;
    kind: string;
    credential?: { type: string; id: string };
    /** A session's person. */
    user?: Person;
  };
  /** The app's maker (oauth_apps.created_by), whom the event is for; null: the operator made it. */
  maker?: Person | null;
  /** What the containment did: disable_app, rotate_secret or revoke_tokens. */
  action?: string;
  /** Where the leaked secret was found (as the code host or the alert said), and when. */
  leak?: { url: string | null; observed_at?: string; token_type?: string; source?: string };
  /** How many of each kind the containment revoked (access tokens, events tokens, sessions). */
  revoked?: Record<string, number>;
  /** Whether the containment replaced the leaked secret (the new one is read once in the console or API). */
  secret_replaced?: boolean;
  signal?: { title: string; severity: string | null; source: string | null };
  console_url: string;
}

export interface Person {
  user_id: string;
  email: string | null;
  display_name: string | null;
}

export interface StandardPayload {
  type: WebhookEvent;
  /** RFC 3339: when the audit entry was recorded. */
  timestamp: string;
  data: EventData;
}

/** The message's data, from its entry and what the database says about the plan or containment. */
export function eventData(
  type: WebhookEvent,
  entry: NumberedEntry,
  context: EventContext | undefined,
  issuer: string,
): EventData {
  const planId = context?.plan_id ?? undefined;
  const containmentId = context?.containment_id ?? undefined;
  const reason = entry.details['reason'];
  // A plan's page decides it; a containment's shows its steps; the rest is the account's automation.
  const page = type.startsWith('plan.')
    ? `plans/${planId}`
    : containmentId && (type.startsWith('containment.') || type === 'secret.leaked')
      ? `containments/${containmentId}`
      : type === 'secret.leaked'
        ? `audit/${entry.idx}`
        : 'automation';
  return {
    account_id: entry.account_id,
    audit_index: Number(entry.idx),
    ...(planId ? { plan_id: planId } : {}),
    ...(containmentId ? { containment_id: containmentId } : {}),
    ...(type === 'breaker.tripped' ? { breaker: entry.target_id } : {}),
    ...(typeof reason === 'string' ? { reason } : {}),
    ...(context?.user_id
      ? { subject: { user_id: context.user_id, email: context.email, display_name: context.display_name } }
      : {}),
    ...nhiData(type, entry, context),
    ...(context?.signal_title
      ? { signal: { title: context.signal_title, severity: context.signal_severity, source: context.signal_source } }
      : {}),
    console_url: `${issuer}/console/${page}`,
  };
}

const textOf = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const person = (id: string | null | undefined, email: string | null | undefined, name: string | null | undefined) =>
  id ? { user_id: id, email: email ?? null, display_name: name ?? null } : undefined;

/** What a message says of a non-human subject: from the context (names) and the entry (the leak, the counts). */
function nhiData(type: WebhookEvent, entry: NumberedEntry, context: EventContext | undefined): Partial<EventData> {
  const subject = context?.nhi;
  if (!subject) return {};
  const user = person(context.session_user_id, context.session_email, context.session_display_name);
  const data: Partial<EventData> = {
    nhi: {
      type: subject.type,
      id: subject.id,
      name: context.nhi_name ?? null,
      token_hash: subject.token_hash,
      kind: subject.kind,
      ...(subject.credential ? { credential: { type: subject.credential.type, id: subject.credential.id } } : {}),
      ...(user ? { user } : {}),
    },
    ...(subject.type === 'app'
      ? { maker: person(context.maker_id, context.maker_email, context.maker_name) ?? null }
      : {}),
    ...(context.nhi_action ? { action: context.nhi_action } : {}),
  };
  const d = entry.details;
  if (type === 'secret.leaked') {
    const [tokenType, source] = [textOf(d['token_type']), textOf(d['source'])];
    data.leak = {
      url: textOf(d['url']) ?? null,
      ...(tokenType ? { token_type: tokenType } : {}),
      ...(source ? { source } : {}),
    };
  } else if (entry.action === 'containment.open') {
    const leak = (d['leak'] ?? {}) as Record<string, unknown>;
    const observedAt = textOf(leak['observed_at']);
    data.leak = { url: textOf(leak['url']) ?? null, ...(observedAt ? { observed_at: observedAt } : {}) };
    const revoked = (d['revoked'] ?? {}) as Record<string, unknown>;
    data.revoked = Object.fromEntries(
      Object.entries(revoked).flatMap(([k, n]) => (typeof n === 'number' ? [[k.replace(/_revoked$/, ''), n]] : [])),
    );
    data.secret_replaced = d['secret_replaced'] === true;
  }
  return data;
}

export function standardPayload(type: WebhookEvent, entry: NumberedEntry, data: EventData): StandardPayload {
  return { type, timestamp: entry.recorded_at, data };
}

const HEADLINES: Record<WebhookEvent, string> = {
  'secret.leaked': 'A Cordon secret was found in public',
  'plan.pending_approval': 'A plan waits for approval',
  'plan.executed': 'A plan was executed',
  'plan.denied': 'A plan was denied',
  'plan.expired': 'A plan expired without a decision',
  'containment.opened': 'A user was contained',
  'containment.partial': 'A containment is partial: a target did not verify',
  'containment.restored': 'A contained user was restored',
  'breaker.tripped': 'A blast-radius breaker tripped',
  'automation.paused': 'Automation was paused',
};

/** Slack's mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting#escaping). */
const escape = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

const NHI_LABEL = { app: 'app', source: 'detection source', session: 'session' } as const;

/** The headline: of a user's containment, or of a non-human identity's. */
function headline(type: WebhookEvent, data: EventData): string {
  if (!data.nhi) return HEADLINES[type];
  const label = NHI_LABEL[data.nhi.type];
  if (type === 'containment.opened') return `A leaked secret's ${label} was contained`;
  if (type === 'containment.restored') return `A leaked secret's ${label} was restored`;
  return HEADLINES[type];
}

const named = (p: Person) => `${escape(p.display_name ?? p.user_id)}${p.email ? ` (${escape(p.email)})` : ''}`;

/** Slack lines of a non-human subject: the owner, the app's maker, where the leak was found, what was done. */
function nhiLines(data: EventData): string[] {
  const nhi = data.nhi!;
  const lines = [
    nhi.type === 'session'
      ? `Session of: ${nhi.user ? named(nhi.user) : escape(nhi.id)}`
      : `${nhi.type === 'app' ? 'App' : 'Source'}: ${escape(nhi.name ?? nhi.id)}`,
  ];
  if (data.maker) lines.push(`Made by: ${named(data.maker)}`);
  if (data.leak?.url) lines.push(`Found at: ${escape(data.leak.url)}`);
  if (data.action) lines.push(`Action: ${escape(data.action)}`);
  return lines;
}

/** Slack's incoming-webhook body: a fallback `text`, a section in mrkdwn, and a button to the console. */
export function slackPayload(type: WebhookEvent, data: EventData): Record<string, unknown> {
  const lines = [`*${headline(type, data)}*`];
  if (data.nhi) lines.push(...nhiLines(data));
  if (data.subject)
    lines.push(
      `Subject: ${escape(data.subject.display_name ?? data.subject.user_id)} (${escape(data.subject.email ?? '')})`,
    );
  if (data.signal)
    lines.push(
      `Signal: ${escape(data.signal.title)}${data.signal.severity ? ` (${escape(data.signal.severity)})` : ''}`,
    );
  if (data.reason) lines.push(`Reason: ${escape(data.reason)}`);
  const about = data.subject?.email ?? data.nhi?.name ?? data.nhi?.user?.email;
  const text = `${headline(type, data)}${about ? `: ${escape(about)}` : ''}`;
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: lines.join('\n') } },
      {
        type: 'actions',
        elements: [
          {
            type: 'button',
            text: {
              type: 'plain_text',
              text: type === 'plan.pending_approval' ? 'Review in Cordon' : 'Open in Cordon',
            },
            url: data.console_url,
          },
        ],
      },
    ],
  };
}
