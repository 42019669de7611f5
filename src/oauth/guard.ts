/**
 * The resource-side guard every protected route uses: a valid Cordon access token (see
 * access-token.ts), not revoked and of an enabled app (checked in the database on every request, so a
 * revocation or a disabled app holds on the very next request on every node), holding the route's
 * permission, for the account in the path. Failures carry RFC 6750 challenges.
 */
import type { FastifyRequest } from 'fastify';
import type { Core } from '../app.js';
import type { CallContext } from '../audit/entry.js';
import { AppError } from '../errors.js';
import { tokenStanding } from '../store/tokens.js';
import { InvalidToken, verifyAccessToken, type AccessTokenClaims } from './access-token.js';
import type { Permission } from './permissions.js';

export interface Principal {
  claims: AccessTokenClaims;
  permissions: string[];
  /** For the audit entries of what the request does. */
  ctx: CallContext;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

const BEARER = /^Bearer\s+([A-Za-z0-9\-._~+/]+=*)\s*$/i;

function challenge(code: 'UNAUTHENTICATED' | 'PERMISSION_DENIED', description: string, params: string): AppError {
  return new AppError(code, { description, headers: { 'www-authenticate': `Bearer realm="cordon"${params}` } });
}

/** A preHandler that admits only tokens holding `permission` for the `:account` of the path (if any). */
export function requirePermission(core: Core, permission: Permission) {
  return async (request: FastifyRequest): Promise<void> => {
    const match = BEARER.exec(request.headers.authorization ?? '');
    if (!match) throw challenge('UNAUTHENTICATED', 'a bearer access token is required', '');
    let claims: AccessTokenClaims;
    try {
      claims = await verifyAccessToken(core.keys, match[1]!, core.issuer);
    } catch (error) {
      if (!(error instanceof InvalidToken)) throw error;
      throw challenge('UNAUTHENTICATED', 'the access token is invalid or expired', ', error="invalid_token"');
    }
    const standing = await tokenStanding(core.database.db, claims.account_id, claims.jti, claims.client_id);
    if (standing.revoked || !standing.appActive) {
      throw challenge('UNAUTHENTICATED', 'the access token is revoked or its app disabled', ', error="invalid_token"');
    }
    const account = (request.params as { account?: string } | undefined)?.account;
    if (account !== undefined && account !== claims.account_id) {
      throw challenge('PERMISSION_DENIED', 'the access token belongs to another account', ', error="insufficient_scope"');
    }
    const permissions = claims.scope.split(' ');
    if (!permissions.includes(permission)) {
      throw challenge('PERMISSION_DENIED', `the access token lacks the ${permission} permission`, `, error="insufficient_scope", scope="${permission}"`);
    }
    request.principal = {
      claims,
      permissions,
      ctx: { actor: { type: 'app', id: claims.client_id }, authz: { method: 'bearer', client_id: claims.client_id, jti: claims.jti, permissions } },
    };
  };
}
