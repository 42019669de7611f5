/**
 * OAuth app administration, for signed-in OWNER and ADMIN users of the account in the path. The client
 * secret is in the answer of create and rotate only.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core.js';
import { ADMIN_ROLES, requireSession } from '../guards/session.js';
import {
  AUTH_METHODS,
  createApp,
  disableApp,
  getApp,
  listApps,
  rotateAppSecret,
  type NewAppInput,
} from '../../oauth/apps.js';
import { auditRefusals } from '../audited-calls.js';
import { IdSchema, RpcStatusSchema } from '../schemas.js';
import { AppSchema, AppWithSecretSchema, appView } from '../views/apps.js';

const Errors = { 400: RpcStatusSchema, 401: RpcStatusSchema, 403: RpcStatusSchema, 404: RpcStatusSchema };
const AccountParams = Type.Object({ account: IdSchema });
const AppParams = Type.Object({ account: IdSchema, app: IdSchema });

const NewApp = Type.Object(
  {
    name: Type.String({ maxLength: 200 }),
    permissions: Type.Array(Type.String({ maxLength: 100 }), { maxItems: 50 }),
    auth_method: Type.Optional(Type.Union(AUTH_METHODS.map((m) => Type.Literal(m)))),
    jwks: Type.Optional(
      Type.Object({ keys: Type.Array(Type.Object({}, { additionalProperties: true }), { maxItems: 10 }) }),
    ),
    dpop_required: Type.Optional(Type.Boolean()),
    constraints: Type.Optional(
      Type.Object(
        {
          allowed_group_ids: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 1000 })),
          protected_roles: Type.Optional(Type.Array(Type.String({ maxLength: 20 }), { maxItems: 3 })),
          max_suspensions_per_hour: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export function appsRoutes(app: FastifyInstance, core: Core): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const admin = requireSession(core, ADMIN_ROLES);
  const audited = auditRefusals(core);
  const base = '/v1/accounts/:account/apps';

  r.post(
    base,
    {
      preHandler: admin,
      ...audited('app.create'),
      schema: {
        summary: 'Create an OAuth app (the client secret is shown this once)',
        tags: ['apps'],
        params: AccountParams,
        body: NewApp,
        response: { 201: AppWithSecretSchema, ...Errors },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const { app: created, clientSecret } = await createApp(
        core.directory,
        request.human!.ctx,
        request.params.account,
        {
          name: body.name,
          permissions: body.permissions,
          auth_method: body.auth_method,
          jwks: body.jwks as NewAppInput['jwks'],
          dpop_required: body.dpop_required,
          allowed_group_ids: body.constraints?.allowed_group_ids,
          protected_roles: body.constraints?.protected_roles,
          max_suspensions_per_hour: body.constraints?.max_suspensions_per_hour,
        },
      );
      reply.header('cache-control', 'no-store').status(201);
      return { ...appView(created), ...(clientSecret ? { client_secret: clientSecret } : {}) };
    },
  );

  r.get(
    base,
    {
      preHandler: admin,
      schema: {
        summary: 'List the OAuth apps of the account',
        tags: ['apps'],
        params: AccountParams,
        response: { 200: Type.Object({ apps: Type.Array(AppSchema) }), ...Errors },
      },
    },
    async (request) => ({
      apps: (await listApps(core.directory, request.params.account)).map(appView),
    }),
  );

  r.get(
    `${base}/:app`,
    {
      preHandler: admin,
      schema: {
        summary: 'One OAuth app (never its secret)',
        tags: ['apps'],
        params: AppParams,
        response: { 200: AppSchema, ...Errors },
      },
    },
    async (request) => appView(await getApp(core.directory, request.params.account, request.params.app)),
  );

  // AIP-136 custom methods, `…/apps/{app}:disable`: `::` is a literal colon, and the parameter needs a
  // pattern that stops at it (without one, find-my-way takes `:app::disable` for one parameter name).
  r.post(
    `${base}/:app(^[^:]+)::disable`,
    {
      preHandler: admin,
      ...audited('app.disable'),
      schema: {
        summary: 'Disable an OAuth app: its tokens stop working (idempotent)',
        tags: ['apps'],
        params: AppParams,
        response: { 200: Type.Object({ app: AppSchema, changed: Type.Boolean() }), ...Errors },
      },
    },
    async (request) => {
      const { app: disabled, changed } = await disableApp(
        core.directory,
        request.human!.ctx,
        request.params.account,
        request.params.app,
      );
      return { app: appView(disabled), changed };
    },
  );

  r.post(
    `${base}/:app(^[^:]+)::rotateSecret`,
    {
      preHandler: admin,
      ...audited('app.secret.rotate'),
      schema: {
        summary: 'Replace the client secret (shown this once); the old one stops working',
        tags: ['apps'],
        params: AppParams,
        response: { 200: AppWithSecretSchema, ...Errors },
      },
    },
    async (request, reply) => {
      const { app: rotated, clientSecret } = await rotateAppSecret(
        core.directory,
        request.human!.ctx,
        request.params.account,
        request.params.app,
      );
      reply.header('cache-control', 'no-store');
      return { ...appView(rotated), client_secret: clientSecret };
    },
  );
}
