/**
 * Directory administration for people (OWNER and ADMIN sessions of the account): create, update and
 * delete users, roles, the externally-managed mark, a user's full profile and sessions, groups and
 * memberships. The rules live in directory/ (user-admin.ts, groups.ts), which audit every change; the
 * reads and the refusals are audited here.
 * Reading one user the partner way, and suspending or reactivating, is the Users API (users-api.ts).
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core.js';
import type { AuditAction } from '../../audit/actions.js';
import type { AuditEntryInput } from '../../audit/entry.js';
import { ADMIN_ROLES, requireSession, type HumanPrincipal, type OperatorPrincipal } from '../guards/session.js';
import { assertMayChangeApprovers } from '../../directory/approver-group.js';
import { addMember, createGroup, deleteGroup, removeMember } from '../../directory/groups.js';
import { assertMayManage, deleteUser, updateUser } from '../../directory/user-admin.js';
import { assertAccountExists, createUser, getUser } from '../../directory/users.js';
import { AppError } from '../../errors.js';
import { findGroupById, listGroups } from '../../store/groups.js';
import { listSessionsOfUser } from '../../store/sessions.js';
import { findUserByEmail, listUsers } from '../../store/users.js';
import { auditRefusals, callerContext } from '../audited-calls.js';
import { IdSchema, RpcStatusSchema } from '../schemas.js';
import {
  GroupSchema,
  groupView,
  RoleSchema,
  SessionSchema,
  sessionView,
  UserProfileSchema,
  userProfile,
  userView,
  UserViewSchema,
} from '../views/directory.js';

const Errors = {
  400: RpcStatusSchema,
  401: RpcStatusSchema,
  403: RpcStatusSchema,
  404: RpcStatusSchema,
  409: RpcStatusSchema,
};
const ProfilesQuery = Type.Object(
  {
    state: Type.Optional(Type.Union([Type.Literal('ACTIVE'), Type.Literal('SUSPENDED')])),
    email: Type.Optional(Type.String({ maxLength: 320, description: 'the one user with this email (any case)' })),
    after: Type.Optional(IdSchema),
    max_page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 1000 })),
  },
  { additionalProperties: false },
);

const AccountParams = Type.Object({ account: IdSchema });
const UserParams = Type.Object({ account: IdSchema, user: IdSchema });
const GroupParams = Type.Object({ account: IdSchema, group: IdSchema });
const MemberParams = Type.Object({ account: IdSchema, group: IdSchema, user: IdSchema });

const NewUserBody = Type.Object(
  {
    email: Type.String({ maxLength: 320 }),
    display_name: Type.String({ maxLength: 200 }),
    role: Type.Optional(RoleSchema),
    externally_managed: Type.Optional(Type.Boolean()),
    groups: Type.Optional(
      Type.Array(Type.String({ maxLength: 100 }), {
        maxItems: 100,
        description: 'group names; missing groups are created',
      }),
    ),
  },
  { additionalProperties: false },
);
const UserPatchBody = Type.Object(
  {
    email: Type.Optional(Type.String({ maxLength: 320 })),
    display_name: Type.Optional(Type.String({ maxLength: 200 })),
    role: Type.Optional(RoleSchema),
    externally_managed: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export function directoryRoutes(app: FastifyInstance, core: Core): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const admin = requireSession(core, ADMIN_ROLES);
  const human = (request: FastifyRequest): HumanPrincipal | OperatorPrincipal => request.human!;
  const audited = auditRefusals(core);
  // The guard runs first (onRequest, before the body is parsed or anything validated), so that every
  // refusal of a signed-in caller, a malformed body's too, is recorded under who they are.
  // Reads are audited too: who looked at whose profile or sessions is part of the record.
  const recordRead = (request: FastifyRequest, action: AuditAction, target: AuditEntryInput['target']) =>
    core.audit.record({
      accountId: (request.params as { account: string }).account,
      ctx: callerContext(request),
      action,
      target,
      outcome: 'read',
    });
  const users = '/v1/accounts/:account/users';
  const groups = '/v1/accounts/:account/groups';
  const tags = ['directory'];

  r.post(
    users,
    {
      onRequest: admin,
      ...audited('user.create'),
      schema: {
        summary: 'Create a user (an ADMIN creates MEMBERs only)',
        tags,
        params: AccountParams,
        body: NewUserBody,
        response: { 200: UserProfileSchema, ...Errors },
      },
    },
    async (request) => {
      const { ctx, session } = human(request);
      assertMayManage(session?.user.role, request.body.role ?? 'MEMBER', 'create');
      await assertMayChangeApprovers(core.database.db, request.params.account, session?.user.role, {
        names: request.body.groups ?? [],
      });
      return userProfile(core.database.db, await createUser(core.directory, ctx, request.params.account, request.body));
    },
  );

  r.get(
    `${users}/:user/profile`,
    {
      onRequest: admin,
      ...audited('user.read'),
      schema: {
        summary: "A user's full profile: role, externally managed, groups",
        tags,
        params: UserParams,
        response: { 200: UserProfileSchema, ...Errors },
      },
    },
    async (request) => {
      const user = await getUser(core.directory, request.params.account, request.params.user);
      await recordRead(request, 'user.read', { type: 'user', id: user.id });
      return userProfile(core.database.db, user);
    },
  );

  r.get(
    '/v1/accounts/:account/profiles',
    {
      onRequest: admin,
      ...audited('user.list'),
      schema: {
        summary:
          'Users as administrators see them (role, externally managed), in id order, a page at a time; or the one ' +
          'with an email',
        tags,
        params: AccountParams,
        querystring: ProfilesQuery,
        response: {
          200: Type.Object({
            users: Type.Array(UserViewSchema),
            next_after: Type.Optional(Type.String({ description: 'pass as `after` for the next page' })),
          }),
          ...Errors,
        },
      },
    },
    async (request) => {
      const { account } = request.params;
      const { state, email, after } = request.query;
      const limit = request.query.max_page_size ?? 1000;
      await assertAccountExists(core.directory, account);
      await recordRead(request, 'user.list', { type: 'account', id: account });
      if (email !== undefined) {
        const user = await findUserByEmail(core.database.db, account, email);
        return { users: user && (state === undefined || user.state === state) ? [userView(user)] : [] };
      }
      const rows = await listUsers(core.database.db, { accountId: account, state, afterId: after, limit: limit + 1 });
      const page = rows.slice(0, limit);
      return { users: page.map(userView), ...(rows.length > limit ? { next_after: page.at(-1)!.id } : {}) };
    },
  );

  r.patch(
    `${users}/:user`,
    {
      onRequest: admin,
      ...audited('user.update'),
      schema: {
        summary: "Change a user's email, name, role or externally-managed mark",
        tags,
        params: UserParams,
        body: UserPatchBody,
        response: { 200: UserProfileSchema, ...Errors },
      },
    },
    async (request) => {
      const { ctx, session } = human(request);
      const { user } = await updateUser(
        core.directory,
        ctx,
        request.params.account,
        request.params.user,
        request.body,
        session?.user.role,
      );
      return userProfile(core.database.db, user);
    },
  );

  r.delete(
    `${users}/:user`,
    {
      onRequest: admin,
      ...audited('user.delete'),
      schema: {
        summary: 'Delete a user with their sessions and memberships (never the last owner)',
        tags,
        params: UserParams,
        response: { 200: Type.Object({ id: Type.String(), email: Type.String() }), ...Errors },
      },
    },
    async (request) => {
      const { ctx, session } = human(request);
      const user = await deleteUser(
        core.directory,
        ctx,
        request.params.account,
        request.params.user,
        session?.user.role,
      );
      return { id: user.id, email: user.email };
    },
  );

  r.get(
    `${users}/:user/sessions`,
    {
      onRequest: admin,
      ...audited('user.sessions.read'),
      schema: {
        summary: "A user's sessions, live and ended (never their tokens)",
        tags,
        params: UserParams,
        response: { 200: Type.Object({ sessions: Type.Array(SessionSchema) }), ...Errors },
      },
    },
    async (request) => {
      const { account, user } = request.params;
      await getUser(core.directory, account, user);
      await recordRead(request, 'user.sessions.read', { type: 'user', id: user });
      return { sessions: (await listSessionsOfUser(core.database.db, account, user)).map(sessionView) };
    },
  );

  r.get(
    groups,
    {
      onRequest: admin,
      ...audited('group.list'),
      schema: {
        summary: 'The groups of the account, with their members',
        tags,
        params: AccountParams,
        response: { 200: Type.Object({ groups: Type.Array(GroupSchema) }), ...Errors },
      },
    },
    async (request) => {
      await recordRead(request, 'group.list', { type: 'account', id: request.params.account });
      return {
        groups: await Promise.all(
          (await listGroups(core.database.db, request.params.account)).map((g) => groupView(core.database.db, g)),
        ),
      };
    },
  );

  r.post(
    groups,
    {
      onRequest: admin,
      ...audited('group.create'),
      schema: {
        summary: 'Create a group',
        tags,
        params: AccountParams,
        body: Type.Object({ name: Type.String({ maxLength: 100 }) }, { additionalProperties: false }),
        response: { 200: GroupSchema, ...Errors },
      },
    },
    async (request) =>
      groupView(
        core.database.db,
        await createGroup(core.directory, human(request).ctx, request.params.account, request.body.name),
      ),
  );

  r.get(
    `${groups}/:group`,
    {
      onRequest: admin,
      ...audited('group.read'),
      schema: {
        summary: 'One group with its members',
        tags,
        params: GroupParams,
        response: { 200: GroupSchema, ...Errors },
      },
    },
    async (request) => {
      const group = await findGroupById(core.database.db, request.params.account, request.params.group);
      if (!group) throw new AppError('GROUP_NOT_FOUND', { metadata: { group_id: request.params.group } });
      await recordRead(request, 'group.read', { type: 'group', id: group.id });
      return groupView(core.database.db, group);
    },
  );

  r.delete(
    `${groups}/:group`,
    {
      onRequest: admin,
      ...audited('group.delete'),
      schema: {
        summary: 'Delete a group and its memberships',
        tags,
        params: GroupParams,
        response: { 200: Type.Object({ id: Type.String(), name: Type.String() }), ...Errors },
      },
    },
    async (request) => {
      const { ctx, session } = human(request);
      const group = await deleteGroup(
        core.directory,
        ctx,
        request.params.account,
        request.params.group,
        session?.user.role,
      );
      return { id: group.id, name: group.name };
    },
  );

  for (const [method, change, summary] of [
    ['PUT', addMember, 'Add a user to a group (idempotent)'],
    ['DELETE', removeMember, 'Remove a user from a group (idempotent)'],
  ] as const) {
    r.route({
      method,
      url: `${groups}/:group/members/:user`,
      onRequest: admin,
      ...audited(method === 'PUT' ? 'membership.add' : 'membership.remove'),
      schema: {
        summary,
        tags,
        params: MemberParams,
        response: { 200: Type.Object({ changed: Type.Boolean() }), ...Errors },
      },
      handler: async (request) => {
        const { account, group, user } = request.params;
        const { ctx, session } = human(request);
        return { changed: await change(core.directory, ctx, account, group, user, session?.user.role) };
      },
    });
  }
}
