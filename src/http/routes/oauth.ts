/**
 * The OAuth 2.0 endpoints: token (under Cordon's path and the two 1Password paths), RFC 8414 metadata,
 * and the JWKS. Errors here are RFC 6749 bodies (the `oauth` route config tells the error handler).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type TSchema } from 'typebox';
import type { Core } from '../../core.js';
import { rateLimitKey } from '../../address-ranges.js';
import { AppError } from '../../errors.js';
import { AppLookup } from '../../oauth/app-lookup.js';
import { clientCredentialsGrant, type TokenRequest } from '../../oauth/grants/client-credentials.js';
import { PERMISSIONS } from '../../oauth/permissions.js';
import { readClientCredentials } from '../../oauth/client-auth.js';
import { DPOP_ALGS, htuOf } from '../../oauth/dpop.js';
import { GTR_PATH } from '../../oauth/global-token-revocation.js';
import { introspectToken } from '../../oauth/introspection.js';
import { RateLimiter } from '../../oauth/rate-limit.js';
import { revokeToken } from '../../oauth/revocation.js';

export const TOKEN_PATHS = ['/oauth/token', '/v1beta1/users/oauth2/token', '/v1/oauth/token'] as const;
export const REVOKE_PATHS = ['/oauth/revoke', '/v1beta1/users/oauth2/revoke', '/v1/oauth/revoke'] as const;

const OAuthErrorSchema = Type.Object(
  { error: Type.String(), error_description: Type.String() },
  { title: 'RFC 6749 error' },
);
const TokenResponse = Type.Object({
  access_token: Type.String(),
  token_type: Type.Union([Type.Literal('Bearer'), Type.Literal('DPoP')]),
  expires_in: Type.Integer(),
  scope: Type.String(),
});

const IntrospectionResponse = Type.Object({
  active: Type.Boolean(),
  token_type: Type.Optional(Type.String()),
  scope: Type.Optional(Type.String()),
  client_id: Type.Optional(Type.String()),
  account_id: Type.Optional(Type.String()),
  sub: Type.Optional(Type.String()),
  aud: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
  iss: Type.Optional(Type.String()),
  jti: Type.Optional(Type.String()),
  exp: Type.Optional(Type.Integer()),
  iat: Type.Optional(Type.Integer()),
  cnf: Type.Optional(Type.Object({ jkt: Type.Optional(Type.String()) })),
});

export function oauthRoutes(app: FastifyInstance, core: Core): void {
  const deps = {
    db: core.database.db,
    apps: new AppLookup(core.database.db),
    standing: core.tokenStanding,
    audit: core.audit,
    keys: core.keys,
    issuer: () => core.issuer,
    ttl: core.config.accessTokenTtl,
  };
  const perClient = new RateLimiter(core.config.oauthRateLimit.perClient);
  const perAddress = new RateLimiter(core.config.oauthRateLimit.perAddress);
  /** The request's parameters, once it is within the rate limits. */
  const admit = (request: FastifyRequest): TokenRequest => {
    perAddress.take(rateLimitKey(request.clientAddress));
    const parsed = tokenRequest(request, core.issuer);
    perClient.take(presentedClientId(parsed));
    return parsed;
  };

  /**
   * A client-authenticated form endpoint: RFC 6749 error bodies, never cached, within the rate limits.
   * `handle` gets the parsed request and answers the 200 body (undefined: an empty 200).
   */
  const formEndpoint = (
    urls: readonly string[],
    summary: string,
    ok: TSchema,
    handle: (request: TokenRequest) => Promise<unknown>,
  ) => {
    for (const url of urls) {
      app.post(
        url,
        {
          config: { oauth: true, ownRateLimits: true },
          schema: {
            summary,
            tags: ['oauth'],
            consumes: ['application/x-www-form-urlencoded'],
            response: {
              200: ok,
              400: OAuthErrorSchema,
              401: OAuthErrorSchema,
              429: OAuthErrorSchema,
              503: OAuthErrorSchema,
            },
          },
        },
        async (request, reply) => {
          reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
          const body = await handle(admit(request));
          return body === undefined ? reply.status(200).send() : body;
        },
      );
    }
  };

  formEndpoint(TOKEN_PATHS, 'Token endpoint: client_credentials (RFC 6749 §4.4)', TokenResponse, async (request) => {
    const token = await clientCredentialsGrant(deps, request);
    return {
      access_token: token.accessToken,
      token_type: token.tokenType,
      expires_in: token.expiresIn,
      scope: token.scope.join(' '),
    };
  });
  formEndpoint(
    REVOKE_PATHS,
    'Token revocation (RFC 7009): 200 with no body, also for unknown tokens',
    Type.Null(),
    async (request) => {
      await revokeToken(deps, request);
      return undefined;
    },
  );
  formEndpoint(
    ['/oauth/introspect'],
    'Token introspection (RFC 7662), for tokens of the caller’s own account',
    IntrospectionResponse,
    (request) => introspectToken(deps, request),
  );

  app.get(
    '/.well-known/oauth-authorization-server',
    {
      schema: {
        summary: 'Authorization server metadata (RFC 8414)',
        tags: ['oauth'],
        response: { 200: Type.Object({}, { additionalProperties: true }) },
      },
    },
    async () => ({
      issuer: core.issuer,
      token_endpoint: `${core.issuer}/oauth/token`,
      jwks_uri: `${core.issuer}/.well-known/jwks.json`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'],
      dpop_signing_alg_values_supported: DPOP_ALGS,
      revocation_endpoint: `${core.issuer}/oauth/revoke`,
      revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      introspection_endpoint: `${core.issuer}/oauth/introspect`,
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
      global_token_revocation_endpoint: `${core.issuer}${GTR_PATH}`,
      global_token_revocation_endpoint_auth_methods_supported: ['Bearer', 'DPoP', 'private_key_jwt'],
      scopes_supported: Object.keys(PERMISSIONS),
      response_types_supported: [],
    }),
  );

  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        summary: 'The public keys that sign access tokens',
        tags: ['oauth'],
        response: { 200: Type.Object({ keys: Type.Array(Type.Object({}, { additionalProperties: true })) }) },
      },
    },
    async () => core.keys.jwks(),
  );
}

/** The form parameters and client facts of a token or revocation request. */
function tokenRequest(request: FastifyRequest, issuer: string): TokenRequest {
  if (!/^application\/x-www-form-urlencoded\b/i.test(request.headers['content-type'] ?? '')) {
    throw new AppError('OAUTH_INVALID_REQUEST', {
      description: 'send the parameters as application/x-www-form-urlencoded',
    });
  }
  const dpop = request.headers.dpop;
  return {
    authorization: request.headers.authorization,
    body: (request.body ?? {}) as Record<string, unknown>,
    // Two DPoP headers are not one proof (RFC 9449 §4.3): an empty one fails verification.
    dpop: Array.isArray(dpop) ? '' : dpop,
    htu: htuOf(issuer, request.url),
    sourceAddress: request.clientAddress,
    userAgent: request.headers['user-agent']?.slice(0, 256),
  };
}

/**
 * The client_id a request names, decoded as authentication will decode it (so that spellings of one id
 * share a bucket), for rate limiting before any lookup. Unreadable credentials share one bucket per
 * address.
 */
function presentedClientId(request: TokenRequest): string {
  try {
    return readClientCredentials(request.authorization, request.body).clientId.slice(0, 200);
  } catch {
    return `unreadable:${request.sourceAddress}`;
  }
}
