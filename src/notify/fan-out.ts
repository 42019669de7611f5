/**
 * The fan-out: run by the audit sequencer inside the transaction that numbers a log's entries
 * (`Sequencer` option `inPass`, set by app.ts), it writes one message per entry that is an event
 * (notify/events.ts) and one delivery per enabled subscription that takes it. So a delivery exists iff
 * the change behind it committed, and exactly once: the entry is numbered once.
 *
 * It costs nothing for entries that are no event, and one indexed query for an account with no
 * subscription; reading the plan or containment behind an event happens only when someone will get it.
 */
import type { Transaction } from 'kysely';
import type { InPass } from '../audit/sequencer.js';
import { newId } from '../ids.js';
import type { Database } from '../storage/schema.js';
import type { NumberedEntry } from '../store/audit.js';
import {
  findContainmentContext,
  findLeakContext,
  findPlanContext,
  type EventContext,
} from '../store/webhook-context.js';
import { insertMessage, listActiveSubscriptions } from '../store/webhooks.js';
import { eventOf, type EventSubject } from './events.js';
import { eventData, slackPayload, standardPayload } from './payload.js';

export interface FanOutOptions {
  /** The base of the console's links (core.issuer, which is known once the server listens). */
  issuer: () => string;
  /** How long a delivery is retried before it ends as failed. */
  giveUpSeconds: number;
  /** Called once the sequencing transaction committed deliveries (the worker starts them at once). */
  onDeliveries: () => void;
}

/** A message's id, the `webhook-id` of every attempt (Standard Webhooks' `msg_` form). */
export const newMessageId = () => `msg_${newId()}`;

export function fanOut(options: FanOutOptions): InPass {
  return async (trx, logId, fresh) => {
    const events = fresh.flatMap((entry) => {
      const event = eventOf(entry);
      return event ? [{ entry, ...event }] : [];
    });
    if (events.length === 0) return;
    const subscriptions = await listActiveSubscriptions(trx, logId);
    if (subscriptions.length === 0) return;
    let wrote = false;
    for (const { entry, type, about } of events) {
      const takers = subscriptions.filter((s) => s.events.includes(type));
      if (takers.length === 0) continue;
      const data = eventData(type, entry, await readContext(trx, entry, about), options.issuer());
      const id = newMessageId();
      const giveUpAt = new Date(Date.now() + options.giveUpSeconds * 1000);
      await insertMessage(
        trx,
        {
          account_id: logId,
          id,
          event_type: type,
          audit_idx: entry.idx,
          payload: JSON.stringify(standardPayload(type, entry, data)),
          slack_payload: takers.some((s) => s.format === 'slack') ? JSON.stringify(slackPayload(type, data)) : null,
        },
        takers.map((s) => ({
          account_id: logId,
          id: newId(),
          message_id: id,
          subscription_id: s.id,
          give_up_at: giveUpAt,
        })),
      );
      wrote = true;
    }
    return wrote ? options.onDeliveries : undefined;
  };
}

function readContext(
  trx: Transaction<Database>,
  entry: NumberedEntry,
  about: EventSubject,
): Promise<EventContext | undefined> {
  if (about === 'account') return Promise.resolve(undefined);
  if ('plan' in about) return findPlanContext(trx, entry.account_id, about.plan);
  if ('leak' in about) return findLeakContext(trx, entry.account_id, about.leak);
  return findContainmentContext(
    trx,
    entry.account_id,
    'containment' in about ? { containmentId: about.containment } : { userId: about.userContainment },
  );
}
