import type { AuditOutcome } from '../storage/schema.js';
import type { AuditAction, AuditTarget } from './actions.js';
import type { AuditEntryValues } from '../store/audit.js';

/**
 * The audit log of the system itself (key rotation, unauthenticated refusals); account logs are keyed by 26-character
 * ids.
 */
export const SYSTEM_LOG = 'SYSTEM';

/**
 * Who acted. `operator` is a person at the CLI on the server's own data directory; `source` a detection
 * source proving itself with its webhook secret or URL token; `anonymous` is a
 * caller not yet authenticated (a failed sign-in), named by its source address.
 */
export interface Actor {
  type: 'user' | 'app' | 'operator' | 'system' | 'responder' | 'source' | 'anonymous';
  id: string;
}

/**
 * Who is calling a service and under which authorization. Every service that changes state takes one,
 * and it goes into the audit entry as is.
 */
export interface CallContext {
  actor: Actor;
  /** How the actor was authorized: method, client id, token jti, permissions … (never a secret). */
  authz: Record<string, unknown>;
  /** Why: reason, ticket, signal id, playbook version, approvals … */
  cause?: Record<string, unknown>;
}

export interface AuditEntryInput {
  accountId: string;
  ctx: CallContext;
  /** One of the registry's actions (audit/actions.ts). */
  action: AuditAction;
  target: { type: AuditTarget; id: string };
  outcome: AuditOutcome;
  details?: Record<string, unknown>;
}

export function toAuditRow(entry: AuditEntryInput): AuditEntryValues {
  return {
    account_id: entry.accountId,
    actor_type: entry.ctx.actor.type,
    actor_id: wellFormed(entry.ctx.actor.id),
    action: entry.action,
    target_type: entry.target.type,
    target_id: wellFormed(entry.target.id),
    cause: toJsonText(entry.ctx.cause ?? {}),
    authz: toJsonText(entry.ctx.authz),
    outcome: entry.outcome,
    details: toJsonText(entry.details ?? {}),
  };
}

/**
 * Client text reaches entries (a reason, a User-Agent, a path segment), and a JSON string can carry a
 * lone surrogate (`"\ud800"`), which PostgreSQL's jsonb refuses and RFC 8785 cannot canonicalise, or a
 * NUL, which neither jsonb nor text columns take: both become U+FFFD here, so that no input can fail an
 * append (a refusal could not be audited) or stall the log's tree.
 */
const wellFormed = (text: string): string =>
  (text as string & { toWellFormed(): string }).toWellFormed().replaceAll('\u0000', '\uFFFD');
export const toJsonText = (value: unknown): string =>
  JSON.stringify(value, (_, v: unknown) => (typeof v === 'string' ? wellFormed(v) : v));
