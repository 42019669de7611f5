import type { AuditOutcome } from '../storage/schema.js';
import type { AuditEntryValues } from '../store/audit.js';

/**
 * Who acted. `operator` is a person at the CLI on the server's own data directory; `anonymous` is a
 * caller not yet authenticated (a failed sign-in), named by its source address.
 */
export interface Actor {
  type: 'user' | 'app' | 'operator' | 'system' | 'responder' | 'anonymous';
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
  action: string;
  target: { type: string; id: string };
  outcome: AuditOutcome;
  details?: Record<string, unknown>;
}

export function toAuditRow(entry: AuditEntryInput): AuditEntryValues {
  return {
    account_id: entry.accountId,
    actor_type: entry.ctx.actor.type,
    actor_id: entry.ctx.actor.id,
    action: entry.action,
    target_type: entry.target.type,
    target_id: entry.target.id,
    cause: JSON.stringify(entry.ctx.cause ?? {}),
    authz: JSON.stringify(entry.ctx.authz),
    outcome: entry.outcome,
    details: JSON.stringify(entry.details ?? {}),
  };
}
