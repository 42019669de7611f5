/**
 * The SIEM feed at the 1Password Events API paths, so collectors built for it (1Password's own, XSOAR,
 * Elastic, Splunk) work against Cordon unchanged but for the host:
 * - `POST /api/v1|v2/auditevents`: the audit log (`?format=ocsf` answers OCSF events);
 * - `POST /api/v1|v2/signinattempts`: Cordon's sign-in attempts (audit/sign-in-attempts.ts);
 * - `POST /api/v1|v2/itemusages`: a valid feed that is always empty (Cordon holds no vault items), since a
 *   collector that gets a 404 stops;
 * - `GET /api/auth/introspect` and `/api/v2/auth/introspect`: what the caller's token may read.
 *
 * The account is the caller's: an events token carrying the feature (oauth/events-tokens.ts), an app
 * token with `audit:read`, or an OWNER/ADMIN session (http/guards/events-token.ts). As 1Password's server
 * does, a body with no Content-Type, or `text/plain`, is read as JSON: 1Password's Go collector sends its
 * `{"limit", "start_time"}` with none.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import type { Core } from '../../core.js';
import { readFeed, toOcsfEvent, toOnePasswordEvent, type People } from '../../audit/feed.js';
import { toSignInAttempt } from '../../audit/sign-in-attempts.js';
import { AppError } from '../../errors.js';
import { EVENTS_FEATURES } from '../../oauth/events-tokens.js';
import type { NumberedEntry } from '../../store/audit.js';
import { feedAccount, requireFeedReader } from '../guards/events-token.js';
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
  const responses = { 200: FeedPage, 400: RpcStatusSchema, 401: RpcStatusSchema, 403: RpcStatusSchema };

  for (const url of ['/api/v1/itemusages', '/api/v2/itemusages']) {
    r.post(
      url,
      {
        preHandler: requireFeedReader(core, 'itemusages'),
        schema: {
          summary: 'Item usages (1Password Events API shape): always empty, as Cordon holds no vault items',
          tags: ['audit'],
          body: Type.Optional(FeedBody),
          response: responses,
        },
      },
      async (request) => {
        checkFeedBody(request.body ?? {});
        return { cursor: emptyCursor, has_more: false, items: [] };
      },
    );
  }

  /** One page of the caller's log, as `render` shapes its entries; the cursor is opaque, MACed, bound to the log. */
  const page = async (
    request: FastifyRequest,
    body: Static<typeof FeedBody>,
    render: (entry: NumberedEntry, people: People) => object,
    action?: string,
  ) => {
    checkFeedBody(body);
    const logId = feedAccount(request);
    const cursor = body.cursor === undefined ? undefined : readCursor(cursors, body.cursor, logId);
    const read = await readFeed(core.database.db, logId, { ...body, cursor, action }, render);
    return { ...read, cursor: cursors.make(read.cursor, logId) };
  };

  for (const url of ['/api/v1/auditevents', '/api/v2/auditevents']) {
    r.post(
      url,
      {
        preHandler: requireFeedReader(core, 'auditevents'),
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
          response: responses,
        },
      },
      (request) =>
        page(request, request.body ?? {}, request.query.format === 'ocsf' ? toOcsfEvent : toOnePasswordEvent),
    );
  }

  for (const url of ['/api/v1/signinattempts', '/api/v2/signinattempts']) {
    r.post(
      url,
      {
        preHandler: requireFeedReader(core, 'signinattempts'),
        schema: {
          summary: "Sign-in attempts (1Password Events API shape), from Cordon's own sign-ins",
          tags: ['audit'],
          body: Type.Optional(FeedBody),
          response: responses,
        },
      },
      (request) => page(request, request.body ?? {}, toSignInAttempt, 'user.sign_in'),
    );
  }

  introspectionRoutes(app, core);
}

/** What the caller's token may read: `GET /api/v2/auth/introspect`, and the deprecated v1 form. */
function introspectionRoutes(app: FastifyInstance, core: Core): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const introspect = (request: FastifyRequest) => {
    const reader = request.eventsReader;
    if (reader)
      return {
        uuid: reader.tokenId,
        issued_at: reader.issuedAt.toISOString(),
        features: reader.features,
        account_uuid: reader.accountId,
      };
    const principal = request.principal;
    return {
      uuid: principal?.claims.jti ?? request.human!.session!.id,
      issued_at: new Date((principal?.claims.iat ?? Date.now() / 1000) * 1000).toISOString(),
      features: [...EVENTS_FEATURES],
      account_uuid: feedAccount(request),
    };
  };
  r.get(
    '/api/v2/auth/introspect',
    {
      preHandler: requireFeedReader(core, undefined),
      schema: {
        summary: 'The features the bearer token may read, and its account (1Password Events API shape)',
        tags: ['audit'],
        response: {
          200: Type.Object({
            uuid: Type.String(),
            issued_at: Type.String(),
            features: Type.Array(Type.String()),
            account_uuid: Type.String(),
          }),
          401: RpcStatusSchema,
          403: RpcStatusSchema,
        },
      },
    },
    async (request) => introspect(request),
  );
  r.get(
    '/api/auth/introspect',
    {
      preHandler: requireFeedReader(core, undefined),
      schema: {
        summary: 'Deprecated v1 form of the introspection: {UUID, IssuedAt, Features}',
        tags: ['audit'],
        response: {
          200: Type.Object({ UUID: Type.String(), IssuedAt: Type.String(), Features: Type.Array(Type.String()) }),
          401: RpcStatusSchema,
          403: RpcStatusSchema,
        },
      },
    },
    async (request) => {
      const { uuid, issued_at, features } = introspect(request);
      return { UUID: uuid, IssuedAt: issued_at, Features: features };
    },
  );
}
