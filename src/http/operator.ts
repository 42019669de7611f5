/**
 * The local operator: the person at the CLI on the machine that holds the data, when no server does.
 * The CLI builds the HTTP API in its own process and sends its requests through `inject()`, so every
 * admin command has one body, the API's. Those requests carry `Authorization: Operator <secret>`, a
 * random secret this process made and keeps in memory only; the instance that knows it refuses to
 * listen, and a served instance never registers this hook, so the operator is never reachable over the
 * network. The operator is audited as `operator` with the OS user and host, authz method `local`.
 */
import { timingSafeEqual } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Core } from '../core.js';
import type { CallContext } from '../audit/entry.js';
import type { OperatorPrincipal } from './guards/session.js';
import { AppError } from '../errors.js';

const OPERATOR = /^Operator\s+([A-Za-z0-9_-]{43})\s*$/;

/** The audit context of the operator: the OS user at this host, on this database. */
function operatorContext(core: Core): CallContext {
  let who = 'unknown';
  try {
    who = userInfo().username;
  } catch {
    // no passwd entry (containers): keep "unknown"
  }
  return {
    actor: { type: 'operator', id: `${who}@${hostname()}` },
    authz: { method: 'local', backend: core.database.backend },
  };
}

/**
 * Admits requests bearing `secret` (32 random bytes, base64url) as the operator, and makes `app`
 * refuse to listen. Registered before any route, so its hook runs before every guard.
 */
export function admitLocalOperator(app: FastifyInstance, core: Core, secret: string): void {
  const expected = Buffer.from(secret, 'utf8');
  if (!OPERATOR.test(`Operator ${secret}`)) throw new Error('the operator secret must be 32 random bytes, base64url');
  const principal: OperatorPrincipal = { operator: true, ctx: operatorContext(core) };
  app.decorateRequest('operator', undefined);
  app.addHook('onRequest', (request: FastifyRequest, _reply, done) => {
    const given = OPERATOR.exec(request.headers.authorization ?? '')?.[1];
    if (given !== undefined && timingSafeEqual(Buffer.from(given, 'utf8'), expected)) request.operator = principal;
    done();
  });
  app.listen = () => {
    throw new Error('this instance admits the local operator: it is for inject() only and never listens');
  };
}

/** A preHandler admitting the local operator only (bootstrap routes: accounts, signing keys). */
export function requireOperator(request: FastifyRequest): Promise<void> {
  if (!request.operator) {
    return Promise.reject(
      new AppError('UNAUTHENTICATED', {
        description: 'this route is for the operator at the CLI of the host that holds the data',
        headers: { 'www-authenticate': 'Bearer realm="cordon"' },
      }),
    );
  }
  request.human = request.operator;
  return Promise.resolve();
}
