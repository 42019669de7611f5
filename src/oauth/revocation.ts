/**
 * Token revocation (RFC 7009). The client authenticates as at the token endpoint; a token that is
 * unknown, expired, malformed or issued to another client is answered 200 like any other (§2.2) and
 * changes nothing. A revoked token is refused by the resource guard from the next request on.
 */
import { AppError } from '../errors.js';
import { insertRevocation } from '../store/tokens.js';
import { InvalidToken, verifyAccessToken } from './access-token.js';
import { authenticateClient, readClientCredentials } from './client-auth.js';
import type { GrantDeps, TokenRequest } from './grants/client-credentials.js';

export async function revokeToken(deps: GrantDeps, request: TokenRequest): Promise<void> {
  const credentials = readClientCredentials(request.authorization, request.body);
  const authn = await authenticateClient(deps, credentials, deps.issuer());
  const app = authn.app;
  const entry = app && {
    accountId: app.account_id,
    ctx: {
      actor: { type: 'app' as const, id: app.id },
      authz: { method: credentials.method, client_id: app.client_id },
    },
    action: 'token.revoke' as const,
    target: { type: 'app' as const, id: app.id },
  };
  if ('refused' in authn) {
    if (entry) await deps.audit.record({ ...entry, outcome: 'refused', details: { reason: authn.reason } });
    throw authn.refused;
  }
  const token = request.body.token;
  if (typeof token !== 'string' || token === '')
    throw new AppError('OAUTH_INVALID_REQUEST', { description: 'token is required' });
  let claims;
  try {
    ({ claims } = await verifyAccessToken(deps.keys, token, deps.issuer(), deps.ttl));
  } catch (error) {
    if (error instanceof InvalidToken) return;
    throw error;
  }
  if (claims.client_id !== authn.app.client_id) return;
  await deps.audit.transact(async (trx) => {
    const added = await insertRevocation(trx, {
      account_id: claims.account_id,
      jti: claims.jti,
      client_id: claims.client_id,
      expires_at: new Date(claims.exp * 1000),
    });
    await deps.audit.append(trx, { ...entry!, outcome: added ? 'changed' : 'unchanged', details: { jti: claims.jti } });
  });
}
