/**
 * Webhook subscriptions as the API shows them: their URL, events and state, never their signing secret
 * (answered once, by the creation: WebhookCreatedSchema), and their delivery log with every attempt.
 */
import { Type, type Static } from 'typebox';
import { EVENT_MEANINGS, WEBHOOK_EVENTS } from '../../notify/events.js';
import type { AttemptRow, LoggedDelivery, SubscriptionRow } from '../../store/webhooks.js';

const Nullable = <T extends ReturnType<typeof Type.String | typeof Type.Integer>>(t: T) => Type.Union([t, Type.Null()]);
const iso = (date: Date | string) => new Date(date).toISOString();

export const WebhookEventSchema = Type.Union(
  WEBHOOK_EVENTS.map((e) => Type.Literal(e)),
  {
    description: WEBHOOK_EVENTS.map((e) => `\`${e}\`: ${EVENT_MEANINGS[e]}`).join('; '),
  },
);

export const WebhookSchema = Type.Object(
  {
    id: Type.String(),
    url: Type.String({
      description:
        'The receiver: in full when created; afterwards its origin only, the rest shown as `/…` (a Slack or Teams ' +
        'incoming-webhook URL is itself a credential)',
    }),
    events: Type.Array(Type.String()),
    format: Type.String({ description: '`standard` (Standard Webhooks JSON) or `slack` (incoming-webhook blocks)' }),
    enabled: Type.Boolean(),
    disabled_reason: Nullable(Type.String()),
    consecutive_failures: Type.Integer({ description: 'Failed attempts in a row, across its deliveries' }),
    create_time: Type.String(),
  },
  { title: 'Webhook' },
);

export const WebhookCreatedSchema = Type.Object(
  {
    webhook: WebhookSchema,
    secret: Type.String({
      description: 'The `whsec_` signing secret: shown this once, sealed at rest, never answered again',
    }),
  },
  { title: 'WebhookCreated' },
);

/** A receiver's URL as reads show it: the origin, and `/…` for a path or query, which may hold a token. */
export function redactedUrl(url: string): string {
  const parsed = new URL(url);
  return parsed.pathname === '/' && parsed.search === '' ? `${parsed.origin}/` : `${parsed.origin}/…`;
}

/** A subscription; its URL in full only in the creation's answer (`created`), to whoever just sent it. */
export function webhookView(row: SubscriptionRow, created = false): Static<typeof WebhookSchema> {
  return {
    id: row.id,
    url: created ? row.url : redactedUrl(row.url),
    events: row.events,
    format: row.format,
    enabled: row.enabled,
    disabled_reason: row.disabled_reason,
    consecutive_failures: row.consecutive_failures,
    create_time: iso(row.created_at),
  };
}

const AttemptSchema = Type.Object({
  attempt: Type.Integer(),
  time: Type.String(),
  status_code: Nullable(Type.Integer()),
  latency_ms: Type.Integer(),
  error: Nullable(Type.String()),
  response_excerpt: Nullable(Type.String()),
});

export const DeliverySchema = Type.Object(
  {
    id: Type.String(),
    message_id: Type.String({ description: 'The `webhook-id` header of every attempt' }),
    event: Type.String(),
    audit_index: Type.Integer({ description: "The audit entry's index in the account's log" }),
    state: Type.String({ description: 'pending, delivering, delivered, failed (gave up) or dropped' }),
    attempts: Type.Integer(),
    next_attempt_time: Nullable(Type.String()),
    give_up_time: Type.String(),
    last_error: Nullable(Type.String()),
    create_time: Type.String(),
    finish_time: Nullable(Type.String()),
    attempt_log: Type.Array(AttemptSchema),
  },
  { title: 'WebhookDelivery' },
);

export function deliveryView(row: LoggedDelivery & { attempt_rows: AttemptRow[] }): Static<typeof DeliverySchema> {
  const open = row.state === 'pending' || row.state === 'delivering';
  return {
    id: row.id,
    message_id: row.message_id,
    event: row.event_type,
    audit_index: Number(row.audit_idx),
    state: row.state,
    attempts: row.attempts,
    next_attempt_time: open ? iso(row.next_attempt_at) : null,
    give_up_time: iso(row.give_up_at),
    last_error: row.last_error,
    create_time: iso(row.created_at),
    finish_time: row.finished_at ? iso(row.finished_at) : null,
    attempt_log: row.attempt_rows.map((a) => ({
      attempt: a.attempt,
      time: iso(a.attempted_at),
      status_code: a.status_code,
      latency_ms: a.latency_ms,
      error: a.error,
      response_excerpt: a.response_excerpt,
    })),
  };
}
