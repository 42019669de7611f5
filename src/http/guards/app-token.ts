/**
 * The resource-side guard every protected route uses: a valid Cordon access token (see
 * oauth/access-token.ts), not revoked, of an enabled app and signed by a key still in force (checked in the
 * database on every request, so a revocation, a disabled app or a revoked key holds on the very next
 * request on every node, however the token's signature was cached), holding the route's
 * permission within what the app's maker can still exercise (oauth/maker-ceiling.ts), for the account in the
 * path. Failures carry RFC 6750 challenges.
 */
import type { FastifyRequest } from 'fastify';
import type { Core } from '../../core.js';
import type { CallContext } from '../../audit/entry.js';
import { AppError } from '../../errors.js';
import { InvalidToken, type AccessTokenClaims } from '../../oauth/access-token.js';
import { accessTokenHash, DPOP_ALGS, htuOf, InvalidProof, verifyDpopProof } from '../../oauth/dpop.js';
import { describeCeiling, makerCeiling, permissionsWithinCeiling } from '../../oauth/maker-ceiling.js';
import type { Permission } from '../../oauth/permissions.js';
import type { Standing } from '../../oauth/token-standing.js';
import type { AppConstraints } from '../../store/tokens.js';

export interface Principal {
  claims: AccessTokenClaims;
  permissions: string[];
  /** The app's constraints as of this request (read with the token's standing). */
  constraints: AppConstraints;
  /** For the audit entries of what the request does. */
  ctx: CallContext;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

const AUTHORIZATION = /^(Bearer|DPoP)\s+([A-Za-z0-9\-._~+/]+=*)\s*$/i;

function challenge(
  code: 'UNAUTHENTICATED' | 'PERMISSION_DENIED',
  description: string,
  params: string,
  scheme = 'Bearer',
): AppError {
  const algs = scheme === 'DPoP' ? `, algs="${DPOP_ALGS.join(' ')}"` : '';
  return new AppError(code, {
    description,
    headers: { 'www-authenticate': `${scheme} realm="cordon"${params}${algs}` },
  });
}

/** A preHandler that admits only tokens holding `permission` for the `:account` of the path (if any). */
export function requirePermission(core: Core, permission: Permission) {
  return async (request: FastifyRequest): Promise<void> => {
    const match = AUTHORIZATION.exec(request.headers.authorization ?? '');
    if (!match) throw challenge('UNAUTHENTICATED', 'a bearer access token is required', '');
    const scheme = match[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
    const token = match[2]!;
    const read = await readAccessToken(core, token);
    if (!read)
      throw challenge('UNAUTHENTICATED', 'the access token is invalid or expired', ', error="invalid_token"', scheme);
    const { claims, kid } = read;
    await checkBinding(core, request, scheme, token, claims.cnf?.jkt);
    const standing = await read.standing();
    if (!standing.stands && standing.keyGone) {
      core.keys.noteRevoked(kid);
      throw challenge(
        'UNAUTHENTICATED',
        'the signing key of the access token is revoked',
        ', error="invalid_token"',
        scheme,
      );
    }
    if (!standing.stands)
      throw challenge(
        'UNAUTHENTICATED',
        'the access token is revoked or its app disabled',
        ', error="invalid_token"',
        scheme,
      );
    const constraints = standing.constraints;
    // Who the caller proved to be, set before the checks below so that a refusal is audited under it.
    const { permissions } = (request.principal = appPrincipal(request, claims, constraints));
    const ceiling = makerCeiling(constraints.maker);
    const account = (request.params as { account?: string } | undefined)?.account;
    if (account !== undefined && account !== claims.account_id) {
      throw challenge(
        'PERMISSION_DENIED',
        'the access token belongs to another account',
        ', error="insufficient_scope"',
      );
    }
    if (ceiling.powerless) {
      throw new AppError('APP_CONSTRAINT', {
        description: `app_constraint: ${describeCeiling(constraints.maker, ceiling)}`,
        metadata: { constraint: 'maker_ceiling' },
      });
    }
    if (!permissions.includes(permission)) {
      throw challenge(
        'PERMISSION_DENIED',
        `the access token lacks the ${permission} permission`,
        `, error="insufficient_scope", scope="${permission}"`,
      );
    }
  };
}

/**
 * An access token's verified claims (undefined when it does not verify), and a way to read whether it
 * still stands (one statement per event-loop turn, oauth/token-standing.ts).
 */
export async function readAccessToken(
  core: Core,
  token: string,
): Promise<{ claims: AccessTokenClaims; kid: string; standing(): Promise<Standing> } | undefined> {
  let verified: { claims: AccessTokenClaims; kid: string };
  try {
    verified = await core.accessTokens.verify(token, core.issuer);
  } catch (error) {
    if (error instanceof InvalidToken) return undefined;
    throw error;
  }
  const { claims, kid } = verified;
  return {
    claims,
    kid,
    standing: () =>
      core.tokenStanding.check({
        accountId: claims.account_id,
        jti: claims.jti,
        clientId: claims.client_id,
        kid,
        // Required by the verification (oauth/access-token.ts).
        iat: claims.iat!,
      }),
  };
}

/**
 * An app caller, with the permissions its token carries within what its maker can still exercise
 * (oauth/maker-ceiling.ts).
 */
export function appPrincipal(
  request: FastifyRequest,
  claims: AccessTokenClaims,
  constraints: AppConstraints,
): Principal {
  const permissions = permissionsWithinCeiling(claims.scope.split(' '), makerCeiling(constraints.maker));
  return {
    claims,
    permissions,
    constraints,
    ctx: {
      actor: { type: 'app', id: claims.client_id },
      authz: { method: 'bearer', client_id: claims.client_id, jti: claims.jti, permissions, ...requestOrigin(request) },
    },
  };
}

/**
 * Where a request came from, for its audit entries: the source address (the client's, behind a trusted
 * proxy) and the client's User-Agent (cut to 200).
 */
export function requestOrigin(request: FastifyRequest): { address: string; user_agent?: string } {
  const agent = request.headers['user-agent'];
  return {
    address: request.clientAddress,
    ...(typeof agent === 'string' && agent !== '' ? { user_agent: agent.slice(0, 200) } : {}),
  };
}

/**
 * RFC 9449 §7: a DPoP-bound token must come with the DPoP scheme and a fresh proof for this request,
 * this token (`ath`) and the bound key; an unbound token must not claim the DPoP scheme.
 */
async function checkBinding(
  core: Core,
  request: FastifyRequest,
  scheme: string,
  token: string,
  jkt: string | undefined,
): Promise<void> {
  if (jkt === undefined) {
    if (scheme === 'DPoP')
      throw challenge('UNAUTHENTICATED', 'the access token is not DPoP-bound', ', error="invalid_token"', 'DPoP');
    return;
  }
  const proof = request.headers.dpop;
  if (scheme !== 'DPoP' || typeof proof !== 'string') {
    throw challenge(
      'UNAUTHENTICATED',
      'the access token is DPoP-bound: send it with the DPoP scheme and a proof',
      ', error="invalid_token"',
      'DPoP',
    );
  }
  try {
    const proven = await verifyDpopProof(core.database.db, proof, {
      htm: request.method,
      htu: htuOf(core.issuer, request.url),
      ath: accessTokenHash(token),
    });
    if (proven.jkt !== jkt) throw new InvalidProof('the proof is signed with another key');
  } catch (error) {
    if (!(error instanceof InvalidProof)) throw error;
    throw challenge('UNAUTHENTICATED', `invalid DPoP proof: ${error.message}`, ', error="invalid_dpop_proof"', 'DPoP');
  }
}
