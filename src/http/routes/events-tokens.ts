/**
 * Events tokens of an app (oauth/events-tokens.ts), for signed-in OWNER and ADMIN users of the account:
 * make one (the token is in that answer only), list them, revoke one.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core.js';
import { EVENTS_FEATURES, issueEventsToken, listEventsTokens, revokeEventsToken } from '../../oauth/events-tokens.js';
import type { EventsTokenRow } from '../../store/events-tokens.js';
import { auditRefusals } from '../audited-calls.js';
import { ADMIN_ROLES, requireSession } from '../guards/session.js';
import { IdSchema, RpcStatusSchema } from '../schemas.js';

const Errors = { 400: RpcStatusSchema, 401: RpcStatusSchema, 403: RpcStatusSchema, 404: RpcStatusSchema };
const AppParams = Type.Object({ account: IdSchema, app: IdSchema });
const TokenParams = Type.Object({
  account: IdSchema,
  app: IdSchema,
  token: Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' }),
});

const EventsTokenSchema = Type.Object({
  id: Type.String(),
  app_id: Type.String(),
  features: Type.Array(Type.String()),
  audience: Type.String(),
  create_time: Type.String(),
  created_by: Type.Union([Type.String(), Type.Null()]),
  revoke_time: Type.Union([Type.String(), Type.Null()]),
});

const view = (row: EventsTokenRow) => ({
  id: row.id,
  app_id: row.app_id,
  features: row.features,
  audience: row.audience,
  create_time: row.created_at.toISOString(),
  created_by: row.created_by,
  revoke_time: row.revoked_at?.toISOString() ?? null,
});

export function eventsTokensRoutes(app: FastifyInstance, core: Core): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const admin = requireSession(core, ADMIN_ROLES);
  const audited = auditRefusals(core);
  const base = '/v1/accounts/:account/apps/:app/events-tokens';
  const deps = { ...core.directory, keys: core.keys, issuer: core.issuer };

  r.post(
    base,
    {
      preHandler: admin,
      ...audited('app.events_token.create'),
      schema: {
        summary: 'Make an events token for the app (shown this once): a bearer for the Events API feed',
        tags: ['apps'],
        params: AppParams,
        body: Type.Object(
          {
            features: Type.Optional(
              Type.Array(Type.Union(EVENTS_FEATURES.map((f) => Type.Literal(f))), { minItems: 1, maxItems: 3 }),
            ),
            audience: Type.Optional(Type.String({ minLength: 1, maxLength: 260 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ ...EventsTokenSchema.properties, token: Type.String() }), ...Errors },
      },
    },
    async (request, reply) => {
      const { token, row } = await issueEventsToken(
        deps,
        request.human!.ctx,
        request.params.account,
        request.params.app,
        request.body,
      );
      reply.header('cache-control', 'no-store').status(201);
      return { ...view(row), token };
    },
  );

  r.get(
    base,
    {
      preHandler: admin,
      schema: {
        summary: "The app's events tokens (never the tokens themselves)",
        tags: ['apps'],
        params: AppParams,
        response: { 200: Type.Object({ items: Type.Array(EventsTokenSchema) }), ...Errors },
      },
    },
    async (request) => ({
      items: (await listEventsTokens(core.directory, request.params.account, request.params.app)).map(view),
    }),
  );

  r.post(
    `${base}/:token(^[^:]+)::revoke`,
    {
      preHandler: admin,
      ...audited('app.events_token.revoke'),
      schema: {
        summary: 'Revoke an events token: it stops working from the next request (idempotent)',
        tags: ['apps'],
        params: TokenParams,
        response: { 200: Type.Object({ token: EventsTokenSchema, changed: Type.Boolean() }), ...Errors },
      },
    },
    async (request) => {
      const { token, changed } = await revokeEventsToken(
        core.directory,
        request.human!.ctx,
        request.params.account,
        request.params.app,
        request.params.token,
      );
      return { token: view(token), changed };
    },
  );
}
