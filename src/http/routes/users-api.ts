/**
 * The Users API, wire-compatible with 1Password's Users API for Partners (reference/users-api-compat.md),
 * under `/v1beta1` and `/v1` alike: list, get, `:suspend`, `:reactivate`. Partner tools change only their
 * base URL. Callers are apps holding the operation's permission, or OWNER/ADMIN sessions of the account.
 *
 * Every call is audited, reads included (through the group commit) and refusals too, with the caller's
 * app, token `jti`, permissions, address and User-Agent; a suspension goes through the directory
 * service, so it revokes sessions and obeys the app's constraints exactly as any other caller's would.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import type { Core } from '../../core.js';
import { requirePermissionOrAdmin } from '../guards/session.js';
import { getUser } from '../../directory/users.js';
import { reactivateUser, suspendUser } from '../../directory/user-state.js';
import type { CallContext } from '../../audit/entry.js';
import { AppError, isAppError } from '../../errors.js';
import type { Principal } from '../guards/app-token.js';
import type { Permission } from '../../oauth/permissions.js';
import { requestRelease } from '../../response/restores.js';
import type { UserState } from '../../storage/schema.js';
import { listUsers } from '../../store/users.js';
import { auditRefusals, callerContext } from '../audited-calls.js';
import { PageTokens } from '../page-token.js';
import { IdSchema, RpcStatusSchema } from '../schemas.js';
import { ApiUserSchema, apiUserView, ListResponseSchema } from '../views/users-api.js';

const USERS_API_PREFIXES = ['/v1beta1', '/v1'] as const;

const Errors = {
  400: RpcStatusSchema,
  401: RpcStatusSchema,
  403: RpcStatusSchema,
  404: RpcStatusSchema,
  429: RpcStatusSchema,
};
const AccountParams = Type.Object({ account: IdSchema });
const UserParams = Type.Object({ account: IdSchema, user: IdSchema });

const ListQuery = Type.Object({
  filter: Type.Optional(
    Type.String({ maxLength: 200, description: '`user.isActive()`, `user.isSuspended()`, or empty for both' }),
  ),
  max_page_size: Type.Optional(
    Type.String({ maxLength: 20, description: '1 to 1000 (larger values are taken as 1000); default 25' }),
  ),
  maxPageSize: Type.Optional(Type.String({ maxLength: 20, description: 'max_page_size, as some clients spell it' })),
  page_token: Type.Optional(
    Type.String({ maxLength: 2048, description: 'next_page_token of the previous page, with the same filter' }),
  ),
  pageToken: Type.Optional(Type.String({ maxLength: 2048, description: 'page_token, as some clients spell it' })),
});

/** Cordon's optional body on `:suspend` and `:reactivate`: why, for the audit entry. No body is fine too. */
const CauseBody = Type.Object(
  {
    reason: Type.Optional(Type.String({ maxLength: 1000 })),
    ticket: Type.Optional(Type.String({ maxLength: 200 })),
    signal_id: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

const FILTERS: Record<string, UserState | undefined> = {
  '': undefined,
  'user.isActive()': 'ACTIVE',
  'user.isSuspended()': 'SUSPENDED',
};
const DEFAULT_PAGE_SIZE = 25;
const MAX_PAGE_SIZE = 1000;

function invalid(field: string, description: string): AppError {
  return new AppError('INVALID_ARGUMENT', { description, metadata: { field } });
}

/** One of two spellings of a query parameter; both given and different is an error. */
function either(
  query: Static<typeof ListQuery>,
  snake: 'max_page_size' | 'page_token',
  camel: 'maxPageSize' | 'pageToken',
): string | undefined {
  const [a, b] = [query[snake], query[camel]];
  if (a !== undefined && b !== undefined && a !== b)
    throw invalid(snake, `${snake} and ${camel} disagree: send one of them`);
  return a ?? b;
}

function parsePageSize(raw: string | undefined): number {
  if (raw === undefined || raw === '') return DEFAULT_PAGE_SIZE;
  if (!/^[0-9]{1,15}$/.test(raw) || Number(raw) < 1)
    throw invalid('max_page_size', 'max_page_size must be a positive integer');
  return Math.min(Number(raw), MAX_PAGE_SIZE);
}

function parseFilter(raw: string | undefined): UserState | undefined {
  const filter = (raw ?? '').trim();
  if (!Object.hasOwn(FILTERS, filter))
    throw invalid('filter', 'filter must be user.isActive() or user.isSuspended(), or empty');
  return FILTERS[filter];
}

/**
 * An app's release that the restore policy holds for a person (RELEASE_NEEDS_APPROVAL, audited as the
 * refusal it is): it becomes a restore request that waits for approval, answered with its plan.
 */
async function askRelease(
  core: Core,
  ctx: CallContext,
  principal: Principal,
  account: string,
  refused: Record<string, string>,
): Promise<AppError> {
  const plan = await requestRelease(
    core.response,
    ctx,
    { clientId: principal.claims.client_id, makerId: principal.constraints.maker.user_id },
    account,
    refused['containment_id']!,
  );
  const pending = new AppError('RELEASE_PENDING_APPROVAL', {
    metadata: { ...refused, plan_id: plan.id, action_digest: plan.action_digest ?? '' },
  });
  pending.audited = true;
  return pending;
}

export function usersApiRoutes(app: FastifyInstance, core: Core): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const pageTokens = new PageTokens(core.sealer, 'users api list');
  // The guard runs first (onRequest, before the body is parsed or anything validated), so that every
  // refusal of an authenticated caller, a malformed body's too, is recorded under who they are.
  const guard = (permission: Permission) => requirePermissionOrAdmin(core, permission);
  const audited = auditRefusals(core);

  for (const prefix of USERS_API_PREFIXES) {
    const version = prefix.slice(1);
    const opId = (name: string) => (version === 'v1' ? name : `${name}_${version}`);
    const users = `${prefix}/accounts/:account/users`;
    const tags = [`users-api ${version}`];

    r.get(
      users,
      {
        onRequest: guard('users:list'),
        ...audited('user.list'),
        schema: {
          operationId: opId('ListUsers'),
          summary: 'List users, in a stable order, a page at a time',
          tags,
          params: AccountParams,
          querystring: ListQuery,
          response: { 200: ListResponseSchema, ...Errors },
        },
      },
      async (request) => {
        const { account } = request.params;
        const state = parseFilter(request.query.filter);
        const pageSize = parsePageSize(either(request.query, 'max_page_size', 'maxPageSize'));
        const token = either(request.query, 'page_token', 'pageToken');
        const binding = `${account}\n${request.query.filter?.trim() ?? ''}`;
        const afterId = token ? String(pageTokens.read(token, binding)) : undefined;
        // The read's entry commits while the page is read: the answer waits for both, not one after the other.
        const [rows] = await Promise.all([
          // Keyset paging on the id: a user present throughout is listed exactly once, whatever changes between pages.
          listUsers(core.database.db, { accountId: account, state, afterId, limit: pageSize + 1 }),
          core.audit.record({
            accountId: account,
            ctx: callerContext(request),
            action: 'user.list',
            target: { type: 'account', id: account },
            outcome: 'read',
            details: {
              filter: request.query.filter ?? '',
              page_size: pageSize,
              ...(afterId ? { after: afterId } : {}),
            },
          }),
        ]);
        const page = rows.slice(0, pageSize);
        return {
          results: page.map(apiUserView),
          ...(rows.length > pageSize ? { next_page_token: pageTokens.make(page.at(-1)!.id, binding) } : {}),
        };
      },
    );

    r.get(
      // The pattern leaves `…/users/{user}:verb` to the custom methods (an unknown verb is no route).
      `${users}/:user(^[^:]+)`,
      {
        onRequest: guard('users:read'),
        ...audited('user.read'),
        schema: {
          operationId: opId('GetUser'),
          summary: 'Get one user',
          tags,
          params: UserParams,
          response: { 200: ApiUserSchema, ...Errors },
        },
      },
      async (request) => {
        const { account, user: userId } = request.params;
        const user = await getUser(core.directory, account, userId);
        await core.audit.record({
          accountId: account,
          ctx: callerContext(request),
          action: 'user.read',
          target: { type: 'user', id: userId },
          outcome: 'read',
        });
        return apiUserView(user);
      },
    );

    for (const [verb, permission, change, summary] of [
      ['suspend', 'users:suspend', suspendUser, 'Suspend a user: their sessions end at once (idempotent)'],
      [
        'reactivate',
        'users:reactivate',
        reactivateUser,
        'Reactivate a suspended user (idempotent); no ended session comes back',
      ],
    ] as const) {
      const operation = verb === 'suspend' ? 'SuspendUser' : 'ReactivateUser';
      r.post(
        // AIP-136 custom method: `::` is a literal colon, and the parameter's pattern stops at it.
        `${users}/:user(^[^:]+)::${verb}`,
        {
          onRequest: guard(permission),
          // No body, or an empty one, is the contract's form: validate it as an empty cause.
          preValidation: async (request: FastifyRequest) => {
            request.body ??= {};
          },
          ...audited(`user.${verb}`),
          schema: {
            operationId: opId(operation),
            summary,
            description:
              'Takes no body. Cordon also accepts an optional JSON body `{reason, ticket, signal_id}`, recorded as ' +
              'the cause in the audit entry.',
            tags,
            params: UserParams,
            body: CauseBody,
            response: { 200: ApiUserSchema, ...Errors },
          },
        },
        async (request) => {
          const { account, user: userId } = request.params;
          const cause = Object.fromEntries(Object.entries(request.body).filter(([, v]) => v !== undefined)) as Record<
            string,
            string
          >;
          const ctx = callerContext(request, cause);
          try {
            const { user } = await change(core.directory, ctx, account, userId, {
              constraints: request.principal?.constraints,
              actorRole: request.human?.session?.user.role,
            });
            return apiUserView(user);
          } catch (error) {
            if (!isAppError(error) || error.code !== 'RELEASE_NEEDS_APPROVAL' || !request.principal) throw error;
            throw await askRelease(core, ctx, request.principal, account, error.metadata!);
          }
        },
      );
    }
  }
}
