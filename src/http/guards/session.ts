/**
 * The guard of routes only people may use: a live sign-in session (an opaque `cordon_sess_` token sent as a
 * Bearer token; looked up by its hash on every request, so sign-out, suspension and credential resets
 * hold at once on every node), of the account in the path, with one of the route's roles, whose user
 * has replaced any generated password. App access tokens are refused here whatever their permissions:
 * no app administers apps or approves actions. The CLI's in-process instance also admits its local
 * operator (OperatorPrincipal), which no served instance knows.
 */
import type { FastifyRequest } from 'fastify';
import type { Core } from '../../core.js';
import type { CallContext } from '../../audit/entry.js';
import type { SessionPrincipal } from '../../auth/principal.js';
import { AppError } from '../../errors.js';
import { appPrincipal, readAccessToken, requestOrigin, requirePermission } from './app-token.js';
import type { Permission } from '../../oauth/permissions.js';
import type { UserRole } from '../../storage/schema.js';
import { findLiveSessionByTokenHash } from '../../store/sessions.js';
import { hashSessionToken, isSessionToken } from '../../auth/sign-in.js';

/** A person the guard admitted: the services' SessionPrincipal (auth/principal.ts). */
export type HumanPrincipal = SessionPrincipal;

/**
 * The operator at the CLI, calling an in-process instance (http/operator.ts): an OWNER-equivalent of
 * every account, with no session and no role ceiling (services take no actor role for it), audited as
 * `operator`. No listening server ever admits it.
 */
export interface OperatorPrincipal {
  operator: true;
  session?: undefined;
  ctx: CallContext;
}

declare module 'fastify' {
  interface FastifyRequest {
    human?: HumanPrincipal | OperatorPrincipal;
    /** Set only by the in-process instance's operator hook, for a request that bears its secret. */
    operator?: OperatorPrincipal;
  }
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;
const APP_TOKEN = /^(Bearer|DPoP)\s+(\S+)\s*$/i;

/**
 * Refuses an app's valid access token with SESSION_REQUIRED, audited under the app (a DPoP-bound token
 * proves nothing without its proof, so it is refused without naming the app); returns for anything else.
 */
async function refuseAppToken(core: Core, request: FastifyRequest, token: string): Promise<void> {
  const read = await readAccessToken(core, token);
  const standing = await read?.standing();
  if (!read || !standing?.stands) return;
  if (read.claims.cnf?.jkt === undefined) request.principal = appPrincipal(request, read.claims, standing.constraints);
  throw new AppError('SESSION_REQUIRED');
}

function unauthenticated(description: string): AppError {
  return new AppError('UNAUTHENTICATED', { description, headers: { 'www-authenticate': 'Bearer realm="cordon"' } });
}

/**
 * The session a request presents; throws UNAUTHENTICATED when there is none or it is not live, and
 * SESSION_REQUIRED (403) for a valid app access token: the caller did authenticate, as an app, and only
 * a person may use this route.
 */
export async function authenticateSession(core: Core, request: FastifyRequest): Promise<HumanPrincipal> {
  const presented = APP_TOKEN.exec(request.headers.authorization ?? '');
  const token = presented?.[2];
  if (!isSessionToken(token)) {
    if (token !== undefined) await refuseAppToken(core, request, token);
    throw unauthenticated('sign in: this route takes a session token from POST /v1/auth/sessions');
  }
  const session = await findLiveSessionByTokenHash(core.database.db, hashSessionToken(token));
  if (!session) throw unauthenticated('the session is signed out, expired or revoked: sign in again');
  // The console's cookie session works in the console only, where posts are CSRF-checked and approving
  // takes a fresh code: a stolen cookie is no API credential.
  if (session.kind === 'console') throw unauthenticated('a console session works only in the console');
  return {
    session,
    ctx: {
      actor: { type: 'user', id: session.user_id },
      authz: { method: 'session', session_id: session.id, role: session.user.role, ...requestOrigin(request) },
    },
  };
}

export interface SessionGuardOptions {
  /**
   * Admit a session whose user must still change a generated password. Only the routes that serve the
   * change itself (changing it, whoami, sign-out) do: a generated password has been shown to others.
   */
  beforePasswordChange?: boolean;
  /**
   * Admit the local operator (default: yes, on routes under an account). Routes about the caller's own
   * session or decisions (whoami, sign-out, password, approving, restoring) are a person's only.
   */
  operator?: boolean;
}

/** The person a request's session belongs to; refuses the local operator, who is nobody's session. */
export function personOf(request: FastifyRequest): HumanPrincipal {
  const human = request.human;
  if (!human?.session)
    throw new AppError('PERMISSION_DENIED', {
      description: 'only a signed-in person may do this: sign in with `cordon login`',
    });
  return human;
}

/** A preHandler admitting sessions of `roles` in the `:account` of the path (any account when the path has none). */
export function requireSession(
  core: Core,
  roles: readonly UserRole[] = ['OWNER', 'ADMIN', 'MEMBER'],
  options: SessionGuardOptions = {},
) {
  return async (request: FastifyRequest): Promise<void> => {
    const account = (request.params as { account?: string } | undefined)?.account;
    if (request.operator) {
      request.human = request.operator;
      if (account === undefined || options.operator === false) personOf(request);
      return;
    }
    const human = await authenticateSession(core, request);
    // Who the caller proved to be, set before the checks below so that a refusal is audited under it.
    request.human = human;
    if (account !== undefined && account !== human.session.account_id) {
      throw new AppError('PERMISSION_DENIED', { description: 'the session belongs to another account' });
    }
    if (human.session.user.password_change_required && !options.beforePasswordChange)
      throw new AppError('PASSWORD_CHANGE_REQUIRED');
    if (!roles.includes(human.session.user.role)) {
      throw new AppError('PERMISSION_DENIED', { description: `this route is for ${roles.join(' or ')} users` });
    }
  };
}

export const ADMIN_ROLES: readonly UserRole[] = ['OWNER', 'ADMIN'];

/**
 * A preHandler for routes both machines and people use: a session token (`cordon_sess_…`, or an older
 * `cdns_…`) must be an OWNER or ADMIN session of the path's account; anything else must be an app token
 * holding `permission`.
 */
export function requirePermissionOrAdmin(core: Core, permission: Permission) {
  const human = requireSession(core, ADMIN_ROLES);
  const app = requirePermission(core, permission);
  return (request: FastifyRequest): Promise<void> =>
    request.operator || isSessionToken(BEARER.exec(request.headers.authorization ?? '')?.[1])
      ? human(request)
      : app(request);
}
