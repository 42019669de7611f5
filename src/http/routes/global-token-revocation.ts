/**
 * `POST /oauth/global-token-revocation` (draft-parecki-oauth-global-token-revocation-06): another system (Okta's
 * Universal Logout, another Cordon's `gtr` target) ends every session of a user of the caller's account.
 *
 * The caller is an app holding `sessions:revoke_all`, proven either by a Cordon access token (Bearer, or DPoP
 * when the token is bound, as on every app route) or by a JWT the app signs with a key of its JWKS (§3.5: a
 * private_key_jwt app; oauth/global-token-revocation.ts). Answers (§3.4): 204 (also when the user had no
 * session), 400 invalid_request, 401 invalid_token, 403 insufficient_scope (or access_denied: the app's
 * constraints exclude the user), 404 user_not_found; RFC 6749-shaped bodies, never cached. The draft's 422
 * (unable to log out) has no case here: ending sessions is one UPDATE in the caller's account, which either
 * commits or fails as the database does (503). The body is read as
 * text whatever its content type, after authentication, so that a bad body is a 400 of a known caller.
 *
 * Every call of an authenticated caller is audited in its account (`user.sessions.revoke_all`), refusals too;
 * a JWT that names an app but does not verify is audited there with the reason (as the token endpoint does).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { decodeProtectedHeader } from 'jose';
import { Type } from 'typebox';
import type { Core } from '../../core.js';
import { revokeAllSessions } from '../../directory/global-logout.js';
import { AppError, isAppError } from '../../errors.js';
import { AppLookup } from '../../oauth/app-lookup.js';
import {
  authenticateAppJwt,
  bearerChallenge,
  GTR_PATH,
  readRevocationRequest,
} from '../../oauth/global-token-revocation.js';
import { describeCeiling, makerCeiling } from '../../oauth/maker-ceiling.js';
import { readUserRole } from '../../store/apps.js';
import { asAppError } from '../error-mapping.js';
import { appPrincipal, requirePermission, type Principal } from '../guards/app-token.js';

const PERMISSION = 'sessions:revoke_all';
const AUTHORIZATION = /^(Bearer|DPoP)\s+([A-Za-z0-9\-._~+/]+=*)\s*$/i;
const BODY_LIMIT = 16 * 1024;
const OAuthErrorSchema = Type.Object({ error: Type.String(), error_description: Type.String() });

function unauthenticated(description: string, error?: 'invalid_token'): AppError {
  return new AppError('UNAUTHENTICATED', { description, headers: bearerChallenge(error) });
}

export function globalTokenRevocationRoutes(app: FastifyInstance, core: Core): void {
  const apps = new AppLookup(core.database.db);
  const guard = requirePermission(core, PERMISSION);

  /** The app a JWT of its own proves, as a principal (permissions within its maker's ceiling). */
  const jwtPrincipal = async (request: FastifyRequest, token: string): Promise<Principal> => {
    const authn = await authenticateAppJwt({ db: core.database.db, apps }, token, core.issuer);
    if ('refused' in authn) {
      if (authn.app) {
        await core.audit.record({
          accountId: authn.app.account_id,
          ctx: { actor: { type: 'app', id: authn.app.client_id }, authz: { method: 'private_key_jwt' } },
          action: 'user.sessions.revoke_all',
          target: { type: 'account', id: authn.app.account_id },
          outcome: 'refused',
          details: { code: 'UNAUTHENTICATED', reason: authn.reason },
        });
        authn.refused.audited = true;
      }
      throw authn.refused;
    }
    const { app: row, payload } = authn;
    const maker = {
      user_id: row.created_by,
      role_then: row.created_by_role,
      role_now: row.created_by === null ? null : await readUserRole(core.database.db, row.account_id, row.created_by),
    };
    const principal = appPrincipal(
      request,
      {
        ...payload,
        client_id: row.client_id,
        account_id: row.account_id,
        scope: row.permissions.join(' '),
      },
      {
        allowed_group_ids: row.allowed_group_ids,
        protected_roles: row.protected_roles,
        max_suspensions_per_hour: row.max_suspensions_per_hour,
        maker,
      },
    );
    principal.ctx.authz.method = 'private_key_jwt';
    request.principal = principal;
    const ceiling = makerCeiling(maker);
    if (ceiling.powerless)
      throw new AppError('APP_CONSTRAINT', {
        description: `app_constraint: ${describeCeiling(maker, ceiling)}`,
        metadata: { constraint: 'maker_ceiling' },
      });
    if (!principal.permissions.includes(PERMISSION))
      throw new AppError('PERMISSION_DENIED', {
        description: `the app lacks the ${PERMISSION} permission`,
        headers: { 'www-authenticate': `Bearer realm="cordon", error="insufficient_scope", scope="${PERMISSION}"` },
      });
    return principal;
  };

  /** Who calls: a Cordon access token (the app routes' guard) or an app's own signed JWT. */
  const authenticate = async (request: FastifyRequest): Promise<Principal> => {
    const match = AUTHORIZATION.exec(request.headers.authorization ?? '');
    if (!match) throw unauthenticated('a bearer access token or a signed JWT is required');
    const token = match[2]!;
    let typ: string | undefined;
    try {
      typ = decodeProtectedHeader(token).typ;
    } catch {
      throw unauthenticated('the access token or signed JWT is invalid, expired or used before', 'invalid_token');
    }
    if (match[1]!.toLowerCase() === 'dpop' || typ?.toLowerCase() === 'at+jwt') {
      await guard(request);
      return request.principal!;
    }
    return jwtPrincipal(request, token);
  };

  /** A refusal of a caller who authenticated, in its account's log (unless the service recorded it). */
  const auditRefusal = async (request: FastifyRequest, error: unknown): Promise<void> => {
    const principal = request.principal;
    if (!principal || (isAppError(error) && error.audited)) return;
    const code = asAppError(error).code;
    if (code === 'UNAVAILABLE' || code === 'INTERNAL') return;
    await core.audit.record({
      accountId: principal.claims.account_id,
      ctx: principal.ctx,
      action: 'user.sessions.revoke_all',
      target: { type: 'account', id: principal.claims.account_id },
      outcome: 'refused',
      details: { code, ...(isAppError(error) && error.metadata ? error.metadata : {}) },
    });
  };

  void app.register(async (scope) => {
    // The body is read as text, whatever its type, and parsed after authentication (readRevocationRequest).
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_request, body, done) =>
      done(null, body),
    );
    scope.post(
      GTR_PATH,
      {
        bodyLimit: BODY_LIMIT,
        config: { oauth: true },
        // Authentication first (before the NUL rule and the body), so that every later refusal is the caller's.
        preHandler: async (request) => {
          await authenticate(request);
        },
        onError: async (request, _reply, error) => {
          await auditRefusal(request, error).catch((failure: unknown) =>
            request.log.error({ err: failure }, 'could not audit a refused call'),
          );
        },
        schema: {
          summary: 'Global Token Revocation: end every session of a user (draft-parecki-oauth-global-token-revocation)',
          description:
            'JSON `{"sub_id": {"format": "email", "email": …}}`, `{"format": "opaque", "id": <user id>}` or ' +
            '`{"format": "iss_sub", "iss": <this issuer>, "sub": <user id>}`. Authorization: an access token of an ' +
            'app holding sessions:revoke_all, or a JWT the app signs with a key of its JWKS (iss = sub = client_id, ' +
            'aud = this URL, exp at most 5 minutes ahead, a fresh jti).',
          tags: ['oauth'],
          consumes: ['application/json'],
          response: {
            204: Type.Null({ description: 'Every session of the user ended (or there was none)' }),
            400: OAuthErrorSchema,
            401: OAuthErrorSchema,
            403: OAuthErrorSchema,
            404: OAuthErrorSchema,
            429: OAuthErrorSchema,
            503: OAuthErrorSchema,
          },
        },
      },
      async (request, reply) => {
        reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
        const principal = request.principal!;
        const { format, subject } = readRevocationRequest(request.body, request.headers['content-type'], core.issuer);
        if (!subject) throw new AppError('USER_NOT_FOUND', { description: 'user not found: another issuer' });
        await revokeAllSessions(core.directory, principal.ctx, principal.claims.account_id, subject, { format });
        return reply.status(204).send();
      },
    );
  });
}
