/**
 * Token introspection (RFC 7662). The caller authenticates as a client; it learns about tokens of its
 * own account only. Anything else, revoked tokens, tokens of disabled apps and of revoked keys included, is
 * `{"active": false}`.
 */
import { InvalidToken, verifyAccessToken, type AccessTokenClaims } from './access-token.js';
import { authenticateClient, readClientCredentials } from './client-auth.js';
import type { GrantDeps, TokenRequest } from './grants/client-credentials.js';
import { AppError } from '../errors.js';

export type Introspection = { active: false } | ({ active: true; token_type: 'Bearer' | 'DPoP' } & AccessTokenClaims);

export async function introspectToken(deps: GrantDeps, request: TokenRequest): Promise<Introspection> {
  const authn = await authenticateClient(
    deps,
    readClientCredentials(request.authorization, request.body),
    deps.issuer(),
  );
  if ('refused' in authn) throw authn.refused;
  const token = request.body.token;
  if (typeof token !== 'string' || token === '')
    throw new AppError('OAUTH_INVALID_REQUEST', { description: 'token is required' });
  let claims: AccessTokenClaims;
  let kid: string;
  try {
    ({ claims, kid } = await verifyAccessToken(deps.keys, token, deps.issuer(), deps.ttl));
  } catch (error) {
    if (error instanceof InvalidToken) return { active: false };
    throw error;
  }
  if (claims.account_id !== authn.app.account_id) return { active: false };
  const ref = { accountId: claims.account_id, jti: claims.jti, clientId: claims.client_id, kid, iat: claims.iat! };
  if (!(await deps.standing.stands(ref))) return { active: false };
  // RFC 9449 §6.2: a bound token is reported as DPoP, with its cnf, so a resource never takes it as Bearer.
  return { active: true, token_type: claims.cnf?.jkt ? 'DPoP' : 'Bearer', ...claims };
}
