/**
 * Auditing the calls of routes where every call leaves an entry (the Users API, directory
 * administration): who the guard admitted, with the body's cause, and a route hook that records each
 * refusal nothing else has recorded (the guard's, validation's, a service's not-found).
 */
import type { FastifyRequest } from 'fastify';
import type { Core } from '../app.js';
import type { CallContext } from '../audit/entry.js';
import { isAppError } from '../errors.js';
import { asAppError } from './error-mapping.js';
import { requestOrigin } from '../oauth/guard.js';
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

/**
 * Records a refused call in the log of the account in the path, when that account exists: a caller
 * that cannot name a real account has no log to write to, and cannot create one.
 */
async function auditRefusal(core: Core, request: FastifyRequest, action: string, error: unknown): Promise<void> {
  if (isAppError(error) && error.audited) return;
  // Not a refusal: the database was away, and the call may even have committed before its answer was lost.
  if (asAppError(error).code === 'UNAVAILABLE') return;
  const params = (request.params ?? {}) as Record<string, unknown>;
  const account = typeof params.account === 'string' ? params.account : '';
  if (!/^[A-Z2-7]{26}$/.test(account) || !(await findAccountById(core.database.db, account))) return;
  const ctx = request.principal?.ctx ?? request.human?.ctx ?? request.source?.ctx ?? { actor: { type: 'anonymous' as const, id: request.ip }, authz: { method: 'none', ...requestOrigin(request) } };
  const named = (['user', 'group', 'source', 'plan', 'containment', 'app'] as const).find((key) => typeof params[key] === 'string');
  const [type, id] = named ? [named, params[named] as string] : ['account', account];
  const code = asAppError(error).code;
  await core.audit.record({ accountId: account, ctx, action, target: { type, id: id.slice(0, 200) }, outcome: 'refused', details: { code } });
}

/** Route options that audit the route's refusals as `action`, before the error handler answers. */
export function auditRefusals(core: Core) {
  return (action: string) => ({
    onError: async (request: FastifyRequest, _reply: unknown, error: unknown) => {
      await auditRefusal(core, request, action, error).catch((failure: unknown) => request.log.error({ err: failure }, 'could not audit a refused call'));
    },
  });
}
