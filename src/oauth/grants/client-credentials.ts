/**
 * The client_credentials grant (RFC 6749 §4.4). `scope` absent or `openid` gives all of the app's
 * permissions (the 1Password behaviour); a subset gives that subset; anything outside is invalid_scope.
 * Every issued token, and every refusal of a known app, is recorded durably (group commit) before the
 * client gets an answer.
 */
import type { AuditLog } from '../../audit/log.js';
import { AppError } from '../../errors.js';
import type { Executor } from '../../store/executor.js';
import type { AppLookup } from '../app-lookup.js';
import { authenticateClient, readClientCredentials } from '../client-auth.js';
import type { KeyRing } from '../keys.js';
import type { TokenStanding } from '../token-standing.js';
import { InvalidProof, verifyDpopProof } from '../dpop.js';
import { issueAccessToken, type IssuedToken } from '../tokens.js';

export interface TokenRequest {
  authorization: string | undefined;
  body: Record<string, unknown>;
  /** The DPoP header, when the client sends a proof. */
  dpop: string | undefined;
  /** The URL the request was sent to, as a DPoP proof must name it. */
  htu: string;
  /** For the audit entry. */
  sourceAddress: string;
  userAgent: string | undefined;
}

export interface GrantDeps {
  db: Executor;
  apps: AppLookup;
  standing: TokenStanding;
  audit: AuditLog;
  keys: KeyRing;
  issuer: () => string;
  ttl: number;
}

export function resolveScope(requested: unknown, permissions: string[]): string[] {
  if (requested !== undefined && typeof requested !== 'string')
    throw new AppError('OAUTH_INVALID_REQUEST', { description: 'scope must be a string' });
  const asked = [...new Set((requested ?? '').split(' ').filter((s) => s !== '' && s !== 'openid'))];
  if (asked.length === 0) return [...permissions];
  const outside = asked.filter((s) => !permissions.includes(s));
  if (outside.length > 0)
    throw new AppError('OAUTH_INVALID_SCOPE', {
      description: `not granted to this app: ${outside.join(' ').slice(0, 200)}`,
    });
  return asked;
}

export async function clientCredentialsGrant(deps: GrantDeps, request: TokenRequest): Promise<IssuedToken> {
  const credentials = readClientCredentials(request.authorization, request.body);
  if (request.body.grant_type !== 'client_credentials') {
    throw new AppError(
      request.body.grant_type === undefined ? 'OAUTH_INVALID_REQUEST' : 'OAUTH_UNSUPPORTED_GRANT_TYPE',
      {
        description:
          request.body.grant_type === undefined
            ? 'grant_type is required'
            : 'only grant_type=client_credentials is supported',
      },
    );
  }
  const authn = await authenticateClient(deps, credentials, deps.issuer());
  const app = authn.app;
  const context = { sourceAddress: request.sourceAddress, userAgent: request.userAgent };
  const record = (outcome: 'changed' | 'refused', details: Record<string, unknown>) =>
    app
      ? deps.audit.record({
          accountId: app.account_id,
          ctx: { actor: { type: 'app', id: app.id }, authz: { method: credentials.method, client_id: app.client_id } },
          action: 'token.issue',
          target: { type: 'app', id: app.id },
          outcome,
          details: { ...details, source_address: context.sourceAddress, user_agent: context.userAgent ?? null },
        })
      : Promise.resolve();
  if ('refused' in authn) {
    await record('refused', { reason: authn.reason });
    throw authn.refused;
  }
  let scope: string[];
  try {
    scope = resolveScope(request.body.scope, authn.app.permissions);
  } catch (error) {
    await record('refused', { reason: 'invalid_scope' });
    throw error;
  }
  let jkt: string | undefined;
  if (request.dpop !== undefined || authn.app.dpop_required) {
    try {
      if (request.dpop === undefined) throw new InvalidProof('this app requires DPoP-bound tokens: send a DPoP proof');
      ({ jkt } = await verifyDpopProof(deps.db, request.dpop, { htm: 'POST', htu: request.htu }));
    } catch (error) {
      if (!(error instanceof InvalidProof)) throw error;
      await record('refused', { reason: 'invalid_dpop_proof' });
      throw new AppError('OAUTH_INVALID_DPOP_PROOF', { description: error.message });
    }
  }
  const token = await issueAccessToken(deps.keys, { issuer: deps.issuer(), app: authn.app, scope, ttl: deps.ttl, jkt });
  await record('changed', {
    jti: token.jti,
    scope,
    auth_method: credentials.method,
    expires_at: token.expiresAt.toISOString(),
    dpop_jkt: jkt ?? null,
  });
  return token;
}
