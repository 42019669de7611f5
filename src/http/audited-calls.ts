/**
 * Auditing the calls of routes where every call leaves an entry (the Users API, directory
 * administration): who the guard admitted, with the body's cause, and a route hook that records each
 * refusal nothing else has recorded (the guard's, validation's, a service's not-found).
 */
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Core } from '../core.js';
import type { AuditAction, AuditTarget } from '../audit/actions.js';
import type { CallContext } from '../audit/entry.js';
import { isAppError } from '../errors.js';
import { asAppError } from './error-mapping.js';
import { findAccountById } from '../store/accounts.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** A detection source that proved itself with its webhook secret or URL token. */
    source?: { ctx: CallContext };
  }
}

/** The context of the caller the guard admitted (an app or a person), with a cause when one is given. */
export function callerContext(request: FastifyRequest, cause?: Record<string, string>): CallContext {
  const ctx = request.principal?.ctx ?? request.human?.ctx ?? request.source?.ctx;
  if (!ctx) throw new Error(`${request.routeOptions.url}: no principal after the guard`);
  return cause && Object.keys(cause).length > 0 ? { ...ctx, cause } : ctx;
}

const ID = /^[A-Z2-7]{26}$/;

/**
 * Records a refused call of a caller that authenticated in the log of the account in the path, when
 * that account exists: a caller that cannot name a real account has no log to write to, and cannot
 * create one. Callers that did not authenticate never write here: anyone could, as fast as they like
 * (anonymous-callers.ts tallies them into the system log instead).
 */
async function auditRefusal(core: Core, request: FastifyRequest, action: AuditAction, error: unknown): Promise<void> {
  if (isAppError(error) && error.audited) return;
  // Not a refusal: the database was away, and the call may even have committed before its answer was lost.
  if (asAppError(error).code === 'UNAVAILABLE') return;
  const ctx = request.principal?.ctx ?? request.human?.ctx ?? request.source?.ctx;
  if (!ctx) return;
  const params = (request.params ?? {}) as Record<string, unknown>;
  const account = typeof params.account === 'string' ? params.account : '';
  if (!ID.test(account) || !(await findAccountById(core.database.db, account))) return;
  const named = (['user', 'group', 'source', 'plan', 'containment', 'app', 'target', 'webhook'] as const).find(
    (key) => typeof params[key] === 'string',
  );
  const [type, id]: [AuditTarget, string] = named ? [named, params[named] as string] : ['account', account];
  const code = asAppError(error).code;
  // A path segment that is no id is the caller's text, not a target: it is kept only as its digest.
  const target = ID.test(id)
    ? { type, id }
    : { type, id: `sha256:${createHash('sha256').update(id, 'utf8').digest('hex')}` };
  await core.audit.record({
    accountId: account,
    ctx,
    action,
    target,
    outcome: 'refused',
    details: { code, ...(target.id === id ? {} : { unvalidated_target: true }) },
  });
}

/** Route options that audit the route's refusals as `action`, before the error handler answers. */
export function auditRefusals(core: Core) {
  return (action: AuditAction) => ({
    onError: async (request: FastifyRequest, _reply: unknown, error: unknown) => {
      await auditRefusal(core, request, action, error).catch((failure: unknown) =>
        request.log.error({ err: failure }, 'could not audit a refused call'),
      );
    },
  });
}
