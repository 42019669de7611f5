/**
 * Target administration, for signed-in OWNER and ADMIN users of the account in the path (the local
 * operator counts as an OWNER). A target is named in the path by its id or its name. Its credentials
 * are accepted on create and on PATCH (a rotation) and never answered.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core.js';
import { AppError } from '../../errors.js';
import { findTarget, listIdentities } from '../../store/targets.js';
import { createTarget, getTarget, listTargets, removeTarget, updateTarget } from '../../targets/registry.js';
import { testTarget } from '../../targets/health.js';
import { syncSubject, syncTargetNow } from '../../targets/sync.js';
import { auditRefusals } from '../audited-calls.js';
import { ADMIN_ROLES, requireSession } from '../guards/session.js';
import { IdSchema, RpcStatusSchema } from '../schemas.js';
import {
  HealthSchema,
  IdentitySchema,
  identityView,
  SyncResultSchema,
  TargetSchema,
  targetView,
} from '../views/targets.js';

const Errors = {
  400: RpcStatusSchema,
  401: RpcStatusSchema,
  403: RpcStatusSchema,
  404: RpcStatusSchema,
  409: RpcStatusSchema,
};
const AccountParams = Type.Object({ account: IdSchema });
const TargetParams = Type.Object({
  account: IdSchema,
  target: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9-]{0,62}$', description: 'The id or the name' }),
});
/** A kind's config or credentials: checked by the kind (targets/kinds.ts). */
const KindObject = Type.Object({}, { additionalProperties: true, maxProperties: 20 });
const Settings = {
  max_concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
  max_rate_per_second: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
  step_deadline_seconds: Type.Optional(Type.Integer({ minimum: 10, maximum: 604_800 })),
  sync_interval_seconds: Type.Optional(Type.Integer({ minimum: 60, maximum: 604_800 })),
};
const NewTarget = Type.Object(
  {
    name: Type.String({ maxLength: 63 }),
    kind: Type.Union([Type.Literal('onepassword'), Type.Literal('scim'), Type.Literal('gtr')]),
    config: KindObject,
    credentials: KindObject,
    enabled: Type.Optional(Type.Boolean()),
    ...Settings,
  },
  { additionalProperties: false },
);
const TargetPatch = Type.Object(
  { enabled: Type.Optional(Type.Boolean()), credentials: Type.Optional(KindObject), ...Settings },
  { additionalProperties: false, minProperties: 1 },
);
const Hint = Type.String({ minLength: 1, maxLength: 320 });
const SyncBody = Type.Object(
  {
    subject: Type.Optional(
      Type.Object(
        { email: Type.Optional(Hint), user_name: Type.Optional(Hint), external_id: Type.Optional(Hint) },
        { additionalProperties: false, minProperties: 1 },
      ),
    ),
  },
  { additionalProperties: false },
);
const IdentitiesQuery = Type.Object(
  {
    email: Type.Optional(Type.String({ maxLength: 320 })),
    after: Type.Optional(Type.String({ maxLength: 1000 })),
    page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);

export function targetsRoutes(app: FastifyInstance, core: Core): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const admin = requireSession(core, ADMIN_ROLES);
  const audited = auditRefusals(core);
  const base = '/v1/accounts/:account/targets';
  // AIP-136 custom methods (`…/targets/{t}:test`): the parameter's pattern stops at the colon.
  const one = `${base}/:target(^[^:/]+)`;
  const tags = ['targets'];

  r.post(
    base,
    {
      preHandler: admin,
      ...audited('target.create'),
      schema: {
        summary: 'Connect a target (its credentials are sealed and never shown again)',
        tags,
        params: AccountParams,
        body: NewTarget,
        response: { 201: TargetSchema, ...Errors },
      },
    },
    async (request, reply) => {
      const created = await createTarget(core.targets, request.human!.ctx, request.params.account, request.body);
      reply.status(201);
      return targetView(created);
    },
  );

  r.get(
    base,
    {
      preHandler: admin,
      schema: {
        summary: 'List the targets of the account',
        tags,
        params: AccountParams,
        response: { 200: Type.Object({ targets: Type.Array(TargetSchema) }), ...Errors },
      },
    },
    async (request) => ({
      targets: (await listTargets(core.targets, request.params.account)).map(targetView),
    }),
  );

  r.get(
    one,
    {
      preHandler: admin,
      schema: { summary: 'One target', tags, params: TargetParams, response: { 200: TargetSchema, ...Errors } },
    },
    async (request) => targetView(await getTarget(core.targets, request.params.account, request.params.target)),
  );

  r.patch(
    one,
    {
      preHandler: admin,
      ...audited('target.update'),
      schema: {
        summary: 'Change settings, enable or disable, or rotate the credentials (`credentials`)',
        tags,
        params: TargetParams,
        body: TargetPatch,
        response: { 200: TargetSchema, ...Errors },
      },
    },
    async (request) => {
      const { target } = await updateTarget(
        core.targets,
        request.human!.ctx,
        request.params.account,
        request.params.target,
        request.body,
      );
      return targetView(target);
    },
  );

  r.delete(
    one,
    {
      preHandler: admin,
      ...audited('target.remove'),
      schema: {
        summary: "Remove a target: its token is revoked, its mirror forgotten, its steps' history kept",
        tags,
        params: TargetParams,
        response: { 204: Type.Null(), ...Errors },
      },
    },
    async (request, reply) => {
      await removeTarget(core.targets, request.human!.ctx, request.params.account, request.params.target);
      reply.status(204);
      return null;
    },
  );

  r.post(
    `${one}::test`,
    {
      preHandler: admin,
      ...audited('target.test'),
      schema: {
        summary: "The target's connectivity check: latency, or the target's exact error",
        tags,
        params: TargetParams,
        response: { 200: HealthSchema, ...Errors },
      },
    },
    async (request) => testTarget(core.targets, request.human!.ctx, request.params.account, request.params.target),
  );

  r.post(
    `${one}::sync`,
    {
      preHandler: admin,
      ...audited('target.sync'),
      schema: {
        summary: "Mirror the target's users now: all of them, or one subject",
        tags,
        params: TargetParams,
        body: Type.Union([SyncBody, Type.Null()]),
        response: { 200: SyncResultSchema, ...Errors },
      },
    },
    async (request) => {
      const { account, target: named } = request.params;
      const target = await findTarget(core.database.db, account, named);
      if (!target) throw new AppError('NOT_FOUND', { description: 'target not found' });
      const subject = request.body?.subject;
      return subject
        ? syncSubject(core.targets, target, subject, request.human!.ctx)
        : syncTargetNow(core.targets, request.human!.ctx, target);
    },
  );

  r.get(
    `${one}/identities`,
    {
      preHandler: admin,
      schema: {
        summary: "The target's mirrored users, by external id (`after` pages; `email` filters)",
        tags,
        params: TargetParams,
        querystring: IdentitiesQuery,
        response: {
          200: Type.Object({ identities: Type.Array(IdentitySchema), next_page_token: Type.Optional(Type.String()) }),
          ...Errors,
        },
      },
    },
    async (request) => {
      const target = await getTarget(core.targets, request.params.account, request.params.target);
      const limit = request.query.page_size ?? 100;
      const rows = await listIdentities(core.database.db, request.params.account, target.id, {
        email: request.query.email,
        after: request.query.after,
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      return {
        identities: page.map(identityView),
        ...(rows.length > limit ? { next_page_token: page.at(-1)!.external_id } : {}),
      };
    },
  );
}
