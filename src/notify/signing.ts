/**
 * Standard Webhooks signing (https://www.standardwebhooks.com, the spec's "Signature scheme"): the
 * secret is `whsec_` + base64 of 32 random bytes; each attempt is signed as
 * `v1,` + base64(HMAC-SHA256(secret bytes, "${webhook-id}.${webhook-timestamp}.${body}")).
 */
import { createHmac, randomBytes } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';

/** A new signing secret, shown once at creation and sealed at rest. */
export function newWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

/** The `webhook-signature` value of one attempt. */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/** The headers of one attempt: the same id every retry, the attempt's own time (unix seconds) and signature. */
export function webhookHeaders(secret: string, id: string, timestamp: number, body: string): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signWebhook(secret, id, timestamp, body),
  };
}
