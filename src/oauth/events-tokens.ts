/**
 * Events tokens: long-lived bearers for the Events API feed (http/routes/events.ts), in the shape
 * 1Password's own collectors read before their first request. Their events-api-elastic decodes the
 * token as an ES256 JWT without verifying it and calls `https://<aud[0]>`; it reads the features it may
 * poll from the `1password.com/fts` claim. So the token is a JWT whose `aud` is an array holding the bare
 * host to call, with `1password.com/auuid` (the account) and `1password.com/fts`.
 *
 * The server trusts an events token only through its row (events_tokens, found by the SHA-256 of the
 * whole token), never by its signature alone: revoking it, disabling its app, taking `audit:read` from
 * the app or demoting its maker out of reach ends it from the next request on every node, and rotating
 * the signing keys does not end it. An app's access tokens stay RFC 9068, as they are.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { CallContext } from '../audit/entry.js';
import type { DirectoryDeps } from '../directory/deps.js';
import type { Database } from '../storage/schema.js';
import { AppError } from '../errors.js';
import {
  findEventsTokenByHash,
  insertEventsToken,
  listEventsTokensOfApp,
  revokeEventsTokenRow,
  type EventsTokenRow,
} from '../store/events-tokens.js';
import { lockAppById } from '../store/apps.js';
import { assertMayAdminister, getApp } from './apps.js';
import type { KeyRing } from './keys.js';
import { makerCeiling, permissionsWithinCeiling } from './maker-ceiling.js';
import { eventsTokenHeader } from '../secret-format.js';
import { signJwt } from './tokens.js';

/** The Events API's features, as `1password.com/fts` names them. */
export const EVENTS_FEATURES = ['auditevents', 'signinattempts', 'itemusages'] as const;
export type EventsFeature = (typeof EVENTS_FEATURES)[number];

/** A host as a JWT audience the collector prepends `https://` to: a DNS name or address, and a port. */
const HOST =
  /^(?=.{1,253}(?::\d{1,5})?$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::\d{1,5})?$/;

export const hashEventsToken = (token: string) => createHash('sha256').update(token, 'utf8').digest('base64url');

export interface EventsTokenInput {
  /** Default: every feature. */
  features?: readonly string[] | undefined;
  /** The bare host the collector will call (default: the host of the issuer). */
  audience?: string | undefined;
}

export interface EventsTokenDeps extends DirectoryDeps {
  keys: KeyRing;
  issuer: string;
}

function checkInput(input: EventsTokenInput, issuer: string): { features: EventsFeature[]; audience: string } {
  const features = [...new Set(input.features ?? EVENTS_FEATURES)];
  const unknown = features.filter((f) => !(EVENTS_FEATURES as readonly string[]).includes(f));
  if (unknown.length > 0 || features.length === 0)
    throw new AppError('INVALID_ARGUMENT', {
      description:
        `features must be some of ${EVENTS_FEATURES.join(', ')}` +
        (unknown.length ? ` (not ${unknown.join(', ')})` : ''),
      metadata: { field: 'features' },
    });
  const audience = input.audience ?? new URL(issuer).host;
  if (!HOST.test(audience))
    throw new AppError('INVALID_ARGUMENT', {
      description:
        'audience must be a bare host (and port), such as events.example.com: the collector calls https://<audience>',
      metadata: { field: 'audience' },
    });
  return { features: features as EventsFeature[], audience };
}

/** Makes an events token for an app holding audit:read; the token is in this answer only. */
export async function issueEventsToken(
  deps: EventsTokenDeps,
  ctx: CallContext,
  accountId: string,
  appId: string,
  input: EventsTokenInput,
): Promise<{ token: string; row: EventsTokenRow }> {
  const signed = await signEventsToken(deps, accountId, appId, input);
  return deps.audit.transact((trx) => storeEventsToken(deps, trx, ctx, signed));
}

/** An events token signed, not yet stored (storeEventsToken): its claims, and the token. */
export interface SignedEventsToken {
  accountId: string;
  appId: string;
  id: string;
  features: EventsFeature[];
  audience: string;
  token: string;
}

/**
 * Signs an events token for an app: before any transaction, since the key ring may read (or make) its key,
 * which must not wait on it.
 */
export async function signEventsToken(
  deps: EventsTokenDeps,
  accountId: string,
  appId: string,
  input: EventsTokenInput,
): Promise<SignedEventsToken> {
  const { features, audience } = checkInput(input, deps.issuer);
  const id = randomUUID();
  const { client_id } = await getApp(deps, accountId, appId);
  const claims = {
    iss: deps.issuer,
    sub: client_id,
    aud: [audience],
    iat: Math.floor(Date.now() / 1000),
    jti: id,
    '1password.com/auuid': accountId,
    '1password.com/fts': features,
  };
  // Its header makes it recognisable to secret scanners, with a checksum (secret-format.ts).
  const token = await signJwt(deps.keys, 'JWT', claims, eventsTokenHeader);
  return { accountId, appId, id, features, audience, token };
}

/** Stores a signed events token in `trx`, under the rules of making one, with its entry. */
export async function storeEventsToken(
  deps: Pick<DirectoryDeps, 'audit'>,
  trx: Transaction<Database>,
  ctx: CallContext,
  signed: SignedEventsToken,
): Promise<{ token: string; row: EventsTokenRow }> {
  const { accountId, appId, id, features, audience, token } = signed;
  const app = await lockAppById(trx, accountId, appId);
  if (!app) throw new AppError('NOT_FOUND', { description: 'app not found' });
  await assertMayAdminister(trx, ctx, app, 'make an events token for');
  if (app.disabled_at) throw new AppError('FAILED_PRECONDITION', { description: 'the app is disabled' });
  if (!app.permissions.includes('audit:read'))
    throw new AppError('FAILED_PRECONDITION', {
      description: 'the app does not hold audit:read, which an events token reads the feed under',
    });
  const row = await insertEventsToken(trx, {
    account_id: accountId,
    id,
    app_id: appId,
    token_hash: hashEventsToken(token),
    features,
    audience,
    created_by: ctx.actor.type === 'user' ? ctx.actor.id : null,
  });
  await deps.audit.append(trx, {
    accountId,
    ctx,
    action: 'app.events_token.create',
    target: { type: 'app', id: appId },
    outcome: 'changed',
    details: { token_id: id, features, audience },
  });
  return { token, row };
}

export async function listEventsTokens(
  deps: DirectoryDeps,
  accountId: string,
  appId: string,
): Promise<EventsTokenRow[]> {
  await getApp(deps, accountId, appId);
  return listEventsTokensOfApp(deps.db, accountId, appId);
}

/** Revokes one of an app's events tokens: it stops working from the next request. Idempotent. */
export async function revokeEventsToken(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  appId: string,
  tokenId: string,
): Promise<{ token: EventsTokenRow; changed: boolean }> {
  return deps.audit.transact(async (trx) => {
    const app = await lockAppById(trx, accountId, appId);
    if (!app) throw new AppError('NOT_FOUND', { description: 'app not found' });
    await assertMayAdminister(trx, ctx, app, 'revoke an events token of');
    const revoked = await revokeEventsTokenRow(trx, accountId, appId, tokenId);
    if (!revoked) throw new AppError('NOT_FOUND', { description: 'the app has no such events token' });
    await deps.audit.append(trx, {
      accountId,
      ctx,
      action: 'app.events_token.revoke',
      target: { type: 'app', id: appId },
      outcome: revoked.changed ? 'changed' : 'unchanged',
      details: { token_id: tokenId },
    });
    return revoked;
  });
}

/** Who an events token speaks for, once it stands. */
export interface EventsReader {
  accountId: string;
  tokenId: string;
  appId: string;
  clientId: string;
  features: string[];
  issuedAt: Date;
}

/**
 * The reader a bearer token names, if it is an events token that stands: not revoked, its app enabled
 * and holding audit:read within what its maker can still exercise. Undefined for any other string.
 */
export async function readEventsToken(
  deps: Pick<DirectoryDeps, 'db'>,
  token: string,
): Promise<EventsReader | undefined> {
  const row = await findEventsTokenByHash(deps.db, hashEventsToken(token));
  if (!row || row.revoked_at !== null || row.app_disabled) return undefined;
  const ceiling = makerCeiling({ user_id: row.maker_id, role_then: row.created_by_role, role_now: row.maker_role });
  if (ceiling.powerless || !permissionsWithinCeiling(row.app_permissions, ceiling).includes('audit:read'))
    return undefined;
  return {
    accountId: row.account_id,
    tokenId: row.id,
    appId: row.app_id,
    clientId: row.client_id,
    features: row.features,
    issuedAt: row.created_at,
  };
}
