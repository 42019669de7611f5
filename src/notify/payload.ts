/**
 * The bodies of a webhook message, rendered once when the audit entry fans out (so that every retry
 * sends the same bytes): the Standard Webhooks shape (`type`, `timestamp`, `data`), and Slack's
 * incoming-webhook JSON (`text` and `blocks`, with a button to the console). Never a secret: a message
 * says which plan, containment, subject and signal, and links to the console.
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
  subject?: { user_id: string; email: string | null; display_name: string | null };
  signal?: { title: string; severity: string | null; source: string | null };
  console_url: string;
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
    : containmentId && type.startsWith('containment.')
      ? `containments/${containmentId}`
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
    ...(context?.signal_title
      ? { signal: { title: context.signal_title, severity: context.signal_severity, source: context.signal_source } }
      : {}),
    console_url: `${issuer}/console/${page}`,
  };
}

export function standardPayload(type: WebhookEvent, entry: NumberedEntry, data: EventData): StandardPayload {
  return { type, timestamp: entry.recorded_at, data };
}

const HEADLINES: Record<WebhookEvent, string> = {
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

/** Slack's incoming-webhook body: a fallback `text`, a section in mrkdwn, and a button to the console. */
export function slackPayload(type: WebhookEvent, data: EventData): Record<string, unknown> {
  const lines = [`*${HEADLINES[type]}*`];
  if (data.subject)
    lines.push(
      `Subject: ${escape(data.subject.display_name ?? data.subject.user_id)} (${escape(data.subject.email ?? '')})`,
    );
  if (data.signal)
    lines.push(
      `Signal: ${escape(data.signal.title)}${data.signal.severity ? ` (${escape(data.signal.severity)})` : ''}`,
    );
  if (data.reason) lines.push(`Reason: ${escape(data.reason)}`);
  const text = `${HEADLINES[type]}${data.subject?.email ? `: ${escape(data.subject.email)}` : ''}`;
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
