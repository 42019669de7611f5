/**
 * SQL of webhook subscriptions and their outbox (0025-webhooks.ts): the subscriptions, the messages the
 * audit log fans out, the deliveries workers on any node claim (FOR UPDATE SKIP LOCKED under a lease), and
 * every attempt. Event context reads (what a message says about a plan or containment) are in
 * store/webhook-context.ts.
 */
import { sql, type Insertable, type Selectable } from 'kysely';
import type {
  DeliveryState,
  WebhookAttemptsTable,
  WebhookDeliveriesTable,
  WebhookFormat,
  WebhookSubscriptionsTable,
} from '../storage/schema.js';
import type { Executor } from './executor.js';

export type SubscriptionRow = Selectable<WebhookSubscriptionsTable>;
export type DeliveryRow = Selectable<WebhookDeliveriesTable>;
export type AttemptRow = Selectable<WebhookAttemptsTable>;

/** A subscription to insert: its secret already sealed, `created_by` as JSON text. */
export type NewSubscription = Insertable<WebhookSubscriptionsTable>;

export function insertSubscription(db: Executor, values: NewSubscription): Promise<SubscriptionRow> {
  return db.insertInto('webhook_subscriptions').values(values).returningAll().executeTakeFirstOrThrow();
}

/** The account's subscriptions that are not removed, oldest first. */
export function listSubscriptions(db: Executor, accountId: string): Promise<SubscriptionRow[]> {
  return db
    .selectFrom('webhook_subscriptions')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('removed_at', 'is', null)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

export function findSubscription(db: Executor, accountId: string, id: string): Promise<SubscriptionRow | undefined> {
  return db
    .selectFrom('webhook_subscriptions')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .where('removed_at', 'is', null)
    .executeTakeFirst();
}

/** The subscriptions an event may go to: enabled, not removed (the fan-out's one query; a partial index). */
export function listActiveSubscriptions(
  db: Executor,
  accountId: string,
): Promise<Array<Pick<SubscriptionRow, 'id' | 'events' | 'format'>>> {
  return db
    .selectFrom('webhook_subscriptions')
    .select(['id', 'events', 'format'])
    .where('account_id', '=', accountId)
    .where('enabled', '=', true)
    .where('removed_at', 'is', null)
    .execute();
}

/** Removes a subscription (its row stays for its delivery log); undefined when there was none. */
export function removeSubscription(db: Executor, accountId: string, id: string): Promise<SubscriptionRow | undefined> {
  return db
    .updateTable('webhook_subscriptions')
    .set({ removed_at: new Date(), enabled: false })
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .where('removed_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
}

/**
 * Enables (clearing the failure count and the reason) or disables a subscription, only if it is not so
 * already; undefined when nothing changed.
 */
export function setSubscriptionEnabled(
  db: Executor,
  accountId: string,
  id: string,
  enabled: boolean,
  reason: string | null,
): Promise<SubscriptionRow | undefined> {
  return db
    .updateTable('webhook_subscriptions')
    .set({ enabled, disabled_reason: enabled ? null : reason, consecutive_failures: 0 })
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .where('removed_at', 'is', null)
    .where('enabled', '=', !enabled)
    .returningAll()
    .executeTakeFirst();
}

/** Counts one more failed attempt in a row (or none, after a success); returns the count. */
export async function countFailure(db: Executor, accountId: string, id: string, failed: boolean): Promise<number> {
  const row = await db
    .updateTable('webhook_subscriptions')
    .set({ consecutive_failures: failed ? sql<number>`consecutive_failures + 1` : 0 })
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .returning('consecutive_failures')
    .executeTakeFirst();
  return row?.consecutive_failures ?? 0;
}

/** Ends a subscription's deliveries still to go (removed or disabled): they are dropped. */
export async function dropDeliveries(db: Executor, accountId: string, subscriptionId: string): Promise<number> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set({ state: 'dropped', finished_at: new Date(), lease_owner: null, lease_until: null })
    .where('account_id', '=', accountId)
    .where('subscription_id', '=', subscriptionId)
    .where('state', 'in', ['pending', 'delivering'])
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export interface NewMessage {
  account_id: string;
  id: string;
  event_type: string;
  audit_idx: number;
  payload: string;
  slack_payload: string | null;
}

export interface NewDelivery {
  account_id: string;
  id: string;
  message_id: string;
  subscription_id: string;
  give_up_at: Date;
}

/** A message and its deliveries, in one statement. */
export async function insertMessage(db: Executor, message: NewMessage, deliveries: NewDelivery[]): Promise<void> {
  await sql`
    WITH message AS (
      INSERT INTO webhook_messages (account_id, id, event_type, audit_idx, payload, slack_payload)
      VALUES (${message.account_id}, ${message.id}, ${message.event_type}, ${message.audit_idx}, ${message.payload},
              ${message.slack_payload})
      RETURNING account_id, id)
    INSERT INTO webhook_deliveries (account_id, id, message_id, subscription_id, give_up_at)
    SELECT message.account_id, d.id, message.id, d.subscription_id, d.give_up_at
    FROM message, unnest(${deliveries.map((d) => d.id)}::text[], ${deliveries.map((d) => d.subscription_id)}::text[],
                         ${deliveries.map((d) => d.give_up_at.toISOString())}::timestamptz[])
           AS d (id, subscription_id, give_up_at)`.execute(db);
}

/** A claimed delivery with what its attempt sends, and where. */
export interface ClaimedDelivery {
  account_id: string;
  id: string;
  message_id: string;
  subscription_id: string;
  attempts: number;
  give_up_at: Date;
  event_type: string;
  payload: string;
  slack_payload: string | null;
  url: string;
  secret: string;
  format: WebhookFormat;
  /** False when the subscription was disabled or removed since: the delivery is dropped, not sent. */
  sendable: boolean;
}

/**
 * Claims due deliveries under a lease: pending ones whose time came, and ones whose lease ran out (a
 * node died mid-attempt). The claim counts the attempt, so a crash still counts it.
 */
export async function claimDeliveries(
  db: Executor,
  claim: { owner: string; now: Date; leaseUntil: Date; limit: number },
): Promise<ClaimedDelivery[]> {
  const { rows } = await sql<ClaimedDelivery>`
    WITH due AS (
      SELECT account_id, id FROM webhook_deliveries
      WHERE (state = 'pending' AND next_attempt_at <= ${claim.now})
         OR (state = 'delivering' AND lease_until <= ${claim.now})
      ORDER BY next_attempt_at
      LIMIT ${claim.limit}
      FOR UPDATE SKIP LOCKED),
    claimed AS (
      UPDATE webhook_deliveries d
      SET state = 'delivering', lease_owner = ${claim.owner}, lease_until = ${claim.leaseUntil},
          attempts = d.attempts + 1
      FROM due WHERE d.account_id = due.account_id AND d.id = due.id
      RETURNING d.account_id, d.id, d.message_id, d.subscription_id, d.attempts, d.give_up_at)
    SELECT c.*, m.event_type, m.payload, m.slack_payload, s.url, s.secret, s.format,
           (s.enabled AND s.removed_at IS NULL) AS sendable
    FROM claimed c
    JOIN webhook_messages m ON m.account_id = c.account_id AND m.id = c.message_id
    JOIN webhook_subscriptions s ON s.account_id = c.account_id AND s.id = c.subscription_id`.execute(db);
  return rows;
}

/** Records how a claimed delivery's attempt ended, if this owner still holds it; false when it lost the lease. */
export async function settleDelivery(
  db: Executor,
  delivery: { account_id: string; id: string; owner: string },
  outcome: { state: DeliveryState; next_attempt_at?: Date; last_error: string | null; finished_at: Date | null },
): Promise<boolean> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set({ ...outcome, lease_owner: null, lease_until: null })
    .where('account_id', '=', delivery.account_id)
    .where('id', '=', delivery.id)
    .where('lease_owner', '=', delivery.owner)
    .where('state', '=', 'delivering')
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function insertAttempt(db: Executor, attempt: AttemptRow): Promise<void> {
  await db.insertInto('webhook_attempts').values(attempt).execute();
}

/** A delivery in a subscription's log, with its message's event. */
export type LoggedDelivery = DeliveryRow & { event_type: string; audit_idx: string };

/** A subscription's latest deliveries, newest first. */
export function listDeliveries(
  db: Executor,
  accountId: string,
  subscriptionId: string,
  limit: number,
): Promise<LoggedDelivery[]> {
  return db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_messages as m', (join) =>
      join.onRef('m.account_id', '=', 'd.account_id').onRef('m.id', '=', 'd.message_id'),
    )
    .selectAll('d')
    .select(['m.event_type', 'm.audit_idx'])
    .where('d.account_id', '=', accountId)
    .where('d.subscription_id', '=', subscriptionId)
    .orderBy('d.created_at', 'desc')
    .orderBy('d.id', 'desc')
    .limit(limit)
    .execute();
}

/** The attempts of these deliveries, in order. */
export function listAttempts(db: Executor, accountId: string, deliveryIds: string[]): Promise<AttemptRow[]> {
  if (deliveryIds.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('webhook_attempts')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('delivery_id', 'in', deliveryIds)
    .orderBy('delivery_id')
    .orderBy('attempt')
    .execute();
}
