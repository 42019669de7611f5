/**
 * An account's webhook subscriptions: creating one (its `whsec_` secret is made here, answered once, and
 * sealed under the KEK with the label `webhook:<account>:<id>`), listing, reading its delivery log,
 * removing, and enabling one the worker disabled. Every change writes its audit entry in its transaction;
 * no entry records the secret, nor more of the URL than its host (a Slack webhook URL is itself a key).
 */
import type { AuditAction } from '../audit/actions.js';
import type { AuditEntryInput, CallContext } from '../audit/entry.js';
import type { AuditLog } from '../audit/log.js';
import { isLoopback } from '../config.js';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import type { Sealer } from '../sealing.js';
import type { AuditOutcome, WebhookFormat } from '../storage/schema.js';
import { findAccountById } from '../store/accounts.js';
import type { Executor } from '../store/executor.js';
import {
  dropDeliveries,
  findSubscription,
  insertSubscription,
  listAttempts,
  listDeliveries,
  listSubscriptions,
  removeSubscription,
  setSubscriptionEnabled,
  type AttemptRow,
  type LoggedDelivery,
  type SubscriptionRow,
} from '../store/webhooks.js';
import { isWebhookEvent, WEBHOOK_EVENTS } from './events.js';
import { newWebhookSecret } from './signing.js';

export interface NotifyDeps {
  db: Executor;
  audit: AuditLog;
  sealer: Sealer;
}

export interface NewWebhookInput {
  url: string;
  events: string[];
  format?: WebhookFormat | undefined;
}

export const webhookSealLabel = (accountId: string, id: string) => `webhook:${accountId}:${id}`;
export const MAX_URL_LENGTH = 2048;

const invalid = (description: string) => new AppError('INVALID_ARGUMENT', { description });
const notFound = () => new AppError('NOT_FOUND', { description: 'webhook not found' });

/**
 * A receiver's URL: https (plain http only on a loopback address, as for targets: a body names people),
 * with no user or password in it.
 */
export function checkWebhookUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid('url: expected an absolute https:// URL');
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(host))))
    throw invalid('url: expected an https:// URL (http:// only on a loopback address)');
  if (url.username !== '' || url.password !== '')
    throw invalid('url: credentials do not belong in the URL; verify deliveries with the signing secret instead');
  if (text.length > MAX_URL_LENGTH) throw invalid(`url: at most ${MAX_URL_LENGTH} characters`);
  return url;
}

function checkEvents(events: string[]): string[] {
  if (events.length === 0) throw invalid(`events: name at least one of ${WEBHOOK_EVENTS.join(', ')}`);
  const unknown = events.filter((e) => !isWebhookEvent(e));
  if (unknown.length > 0)
    throw invalid(`events: unknown ${unknown.join(', ')}; expected some of ${WEBHOOK_EVENTS.join(', ')}`);
  return [...new Set(events)];
}

/**
 * The audit entry of a change to a subscription: its events, format, state and the receiver's host (never
 * the whole URL, nor the secret), with what the change adds.
 */
export function webhookEntry(
  ctx: CallContext,
  row: SubscriptionRow,
  action: AuditAction,
  details: Record<string, unknown> = {},
  outcome: AuditOutcome = 'changed',
): AuditEntryInput {
  return {
    accountId: row.account_id,
    ctx,
    action,
    target: { type: 'webhook', id: row.id },
    outcome,
    details: { host: new URL(row.url).host, events: row.events, format: row.format, enabled: row.enabled, ...details },
  };
}

export async function createWebhook(
  deps: NotifyDeps,
  ctx: CallContext,
  accountId: string,
  input: NewWebhookInput,
): Promise<{ webhook: SubscriptionRow; secret: string }> {
  const url = checkWebhookUrl(input.url);
  const events = checkEvents(input.events);
  const format = input.format ?? 'standard';
  if (format !== 'standard' && format !== 'slack') throw invalid('format: expected standard or slack');
  const id = newId();
  const secret = newWebhookSecret();
  const webhook = await deps.audit.transact(async (trx) => {
    if (!(await findAccountById(trx, accountId)))
      throw new AppError('ACCOUNT_NOT_FOUND', { metadata: { account_id: accountId } });
    const row = await insertSubscription(trx, {
      account_id: accountId,
      id,
      url: url.href,
      events,
      format,
      secret: deps.sealer.seal(webhookSealLabel(accountId, id), secret),
      created_by: JSON.stringify(ctx.actor),
    });
    await deps.audit.append(trx, webhookEntry(ctx, row, 'webhook.create'));
    return row;
  });
  return { webhook, secret };
}

export function listWebhooks(deps: Pick<NotifyDeps, 'db'>, accountId: string): Promise<SubscriptionRow[]> {
  return listSubscriptions(deps.db, accountId);
}

export async function getWebhook(
  deps: Pick<NotifyDeps, 'db'>,
  accountId: string,
  id: string,
): Promise<SubscriptionRow> {
  const row = await findSubscription(deps.db, accountId, id);
  if (!row) throw notFound();
  return row;
}

/** Removes a subscription: its deliveries still to go are dropped; its rows stay, for the record. */
export async function removeWebhook(deps: NotifyDeps, ctx: CallContext, accountId: string, id: string): Promise<void> {
  await deps.audit.transact(async (trx) => {
    const row = await removeSubscription(trx, accountId, id);
    if (!row) throw notFound();
    const dropped = await dropDeliveries(trx, accountId, id);
    await deps.audit.append(trx, webhookEntry(ctx, row, 'webhook.remove', { deliveries_dropped: dropped }));
  });
}

/** Enables a subscription again (after the worker disabled it); its failure count starts over. */
export async function enableWebhook(
  deps: NotifyDeps,
  ctx: CallContext,
  accountId: string,
  id: string,
): Promise<SubscriptionRow> {
  return deps.audit.transact(async (trx) => {
    const current = await findSubscription(trx, accountId, id);
    if (!current) throw notFound();
    const row = await setSubscriptionEnabled(trx, accountId, id, true, null);
    await deps.audit.append(
      trx,
      webhookEntry(ctx, row ?? current, 'webhook.enable', {}, row ? 'changed' : 'unchanged'),
    );
    return row ?? current;
  });
}

/** A subscription's delivery log: its latest deliveries, newest first, each with its attempts. */
export async function webhookDeliveries(
  deps: Pick<NotifyDeps, 'db'>,
  accountId: string,
  id: string,
  limit: number,
): Promise<Array<LoggedDelivery & { attempt_rows: AttemptRow[] }>> {
  await getWebhook(deps, accountId, id);
  const deliveries = await listDeliveries(deps.db, accountId, id, limit);
  const attempts = await listAttempts(
    deps.db,
    accountId,
    deliveries.map((d) => d.id),
  );
  return deliveries.map((d) => ({ ...d, attempt_rows: attempts.filter((a) => a.delivery_id === d.id) }));
}
