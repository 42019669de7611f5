/**
 * The guard of the Events API feed (http/routes/events.ts). It admits:
 * - an events token (oauth/events-tokens.ts) that stands and carries the route's feature;
 * - an app access token holding audit:read, or an OWNER/ADMIN session, as the rest of the audit API.
 *
 * An events token is told from an access token by its JOSE header (`typ: JWT`, where access tokens are
 * `at+jwt`), then trusted only through its row.
 */
import type { FastifyRequest } from 'fastify';
import type { Core } from '../../core.js';
import { AppError } from '../../errors.js';
import { readEventsToken, type EventsFeature, type EventsReader } from '../../oauth/events-tokens.js';
import { requirePermissionOrAdmin } from './session.js';

declare module 'fastify' {
  interface FastifyRequest {
    eventsReader?: EventsReader;
  }
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** Whether a bearer token is a JWT whose header says `typ: JWT`: an events token, if any. */
function looksLikeEventsToken(token: string): boolean {
  const dot = token.indexOf('.');
  if (dot <= 0 || dot > 2000) return false;
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8')) as { typ?: unknown };
    return header.typ === 'JWT';
  } catch {
    return false;
  }
}

/** A preHandler for a feed route; `feature` undefined admits an events token of any feature (introspection). */
export function requireFeedReader(core: Core, feature: EventsFeature | undefined) {
  const others = requirePermissionOrAdmin(core, 'audit:read');
  return async (request: FastifyRequest): Promise<void> => {
    const token = BEARER.exec(request.headers.authorization ?? '')?.[1];
    if (token === undefined || !looksLikeEventsToken(token)) return others(request);
    const reader = await readEventsToken(core.directory, token);
    if (!reader)
      throw new AppError('UNAUTHENTICATED', {
        description: 'the events token is not valid: revoked, its app disabled or without audit:read, or unknown',
        headers: { 'www-authenticate': 'Bearer realm="cordon", error="invalid_token"' },
      });
    if (feature !== undefined && !reader.features.includes(feature))
      throw new AppError('PERMISSION_DENIED', {
        description: `the events token does not carry the ${feature} feature`,
        headers: { 'www-authenticate': `Bearer realm="cordon", error="insufficient_scope", scope="${feature}"` },
      });
    request.eventsReader = reader;
  };
}

/** The account whose log a feed request reads: the caller's, whichever credential it brought. */
export function feedAccount(request: FastifyRequest): string {
  const account =
    request.eventsReader?.accountId ?? request.human?.session?.account_id ?? request.principal?.claims.account_id;
  if (account === undefined)
    throw new AppError('INVALID_ARGUMENT', {
      description: 'the feed reads the caller’s own account: the operator reads /v1/accounts/{account}/audit/entries',
    });
  return account;
}
