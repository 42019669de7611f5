/**
 * The SIEM feed at the 1Password Events API paths (`POST /api/v1|v2/auditevents`), so collectors built
 * for it (XSOAR, Elastic, Splunk) work against Cordon with a base-URL change. The account is the
 * caller's: an app token with `audit:read`, or an OWNER/ADMIN session. `?format=ocsf` answers OCSF events.
 *
 * As 1Password's server does, a body with no Content-Type, or `text/plain`, is read as JSON: 1Password's
 * own Go collector sends its `{"limit", "start_time"}` with none. `itemusages` is a valid feed that is
 * always empty (Cordon holds no vault items), since a collector that gets a 404 stops.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import type { Core } from '../../core.js';
import { readFeed, toOcsfEvent, toOnePasswordEvent } from '../../audit/feed.js';
import { requirePermissionOrAdmin } from '../guards/session.js';
import { AppError } from '../../errors.js';
import type { NumberedEntry } from '../../store/audit.js';
import { PageTokens } from '../page-token.js';
import { RpcStatusSchema } from '../schemas.js';

const FeedBody = Type.Object(
  {
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    start_time: Type.Optional(Type.String({ format: 'date-time' })),
    end_time: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);

const FeedPage = Type.Object({
  cursor: Type.String(),
  has_more: Type.Boolean(),
  items: Type.Array(Type.Object({}, { additionalProperties: true })),
});

/** The cursor of a feed that has nothing (item usages). */
const emptyCursor = 'none';

function checkFeedBody(body: Static<typeof FeedBody>): void {
  if (
    body.cursor !== undefined &&
    (body.limit !== undefined || body.start_time !== undefined || body.end_time !== undefined)
  )
    throw new AppError('INVALID_ARGUMENT', {
      description: 'send either a cursor or a reset cursor (limit, start_time, end_time), not both',
    });
}

export function eventsRoutes(app: FastifyInstance, core: Core): void {
  // Its own scope: the body parsers below hold for the feed's routes only.
  void app.register(async (scope) => feedRoutes(scope, core));
}

function readCursor(cursors: PageTokens, cursor: string, logId: string): string {
  try {
    return String(cursors.read(cursor, logId));
  } catch {
    throw new AppError('INVALID_ARGUMENT', {
      description: 'cursor is not one this server issued for this account: pass back the cursor unchanged',
      metadata: { field: 'cursor' },
    });
  }
}

function feedRoutes(app: FastifyInstance, core: Core): void {
  const cursors = new PageTokens(core.sealer, 'events feed');
  const parseJson = app.getDefaultJsonParser('error', 'error');
  const asJson: Parameters<FastifyInstance['addContentTypeParser']>[2] = (request, body, done) => {
    const text = String(body);
    if (text.trim() === '') done(null, undefined);
    // Fastify's default JSON parser answers through `done`: it returns nothing to wait for.
    else void parseJson(request, text, done);
  };
  app.removeContentTypeParser(['text/plain']);
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, asJson);
  app.addContentTypeParser('*', { parseAs: 'string' }, asJson);
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  for (const url of ['/api/v1/itemusages', '/api/v2/itemusages']) {
    r.post(
      url,
      {
        preHandler: requirePermissionOrAdmin(core, 'audit:read'),
        schema: {
          summary: 'Item usages (1Password Events API shape): always empty, as Cordon holds no vault items',
          tags: ['audit'],
          body: Type.Optional(FeedBody),
          response: { 200: FeedPage, 400: RpcStatusSchema, 401: RpcStatusSchema, 403: RpcStatusSchema },
        },
      },
      async (request) => {
        checkFeedBody(request.body ?? {});
        return { cursor: emptyCursor, has_more: false, items: [] };
      },
    );
  }
  for (const url of ['/api/v1/auditevents', '/api/v2/auditevents']) {
    r.post(
      url,
      {
        preHandler: requirePermissionOrAdmin(core, 'audit:read'),
        schema: {
          summary:
            'Audit events for SIEMs (1Password Events API shape): a reset cursor {limit, start_time, end_time} or ' +
            '{cursor}',
          tags: ['audit'],
          querystring: Type.Object(
            { format: Type.Optional(Type.Union([Type.Literal('1password'), Type.Literal('ocsf')])) },
            { additionalProperties: false },
          ),
          body: Type.Optional(FeedBody),
          response: { 200: FeedPage, 400: RpcStatusSchema, 401: RpcStatusSchema, 403: RpcStatusSchema },
        },
      },
      async (request) => {
        const body = request.body ?? {};
        checkFeedBody(body);
        const logId = request.human?.session?.account_id ?? request.principal!.claims.account_id;
        const render: (entry: NumberedEntry) => object =
          request.query.format === 'ocsf' ? toOcsfEvent : toOnePasswordEvent;
        // The cursor is opaque and MACed, bound to the account: a caller can neither make one up nor carry one
        // over to another account's log.
        const page = await readFeed(
          core.database.db,
          logId,
          { ...body, cursor: body.cursor === undefined ? undefined : readCursor(cursors, body.cursor, logId) },
          render,
        );
        return { ...page, cursor: cursors.make(page.cursor, logId) };
      },
    );
  }
}
