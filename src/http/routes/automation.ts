/**
 * The account's automation controls and its plans, for OWNER and ADMIN sessions: the kill switch
 * (`:pause` / `:resume`), the account's blast-radius cap, resetting tripped breakers, reading plans, and
 * the restore policy (OWNERs only).
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core.js';
import { ADMIN_ROLES, requireSession } from '../guards/session.js';
import { AppError } from '../../errors.js';
import { resetBreakers, setBreakerCap, setPaused } from '../../response/automation.js';
import { MAX_BREAKER_ACTIONS } from '../../response/playbook.js';
import { setRestorePolicy } from '../../response/restores.js';
import { readAutomation } from '../../store/automation.js';
import { findPlan, listPlans } from '../../store/plans.js';
import { auditRefusals, callerContext } from '../audited-calls.js';
import { IdSchema, RpcStatusSchema } from '../schemas.js';
import { AutomationSchema, automationView, RestorePolicySchema, restorePolicyView } from '../views/automation.js';
import { PlanSchema, planView } from '../views/plans.js';

const Errors = { 400: RpcStatusSchema, 401: RpcStatusSchema, 403: RpcStatusSchema, 404: RpcStatusSchema };
const AccountParams = Type.Object({ account: IdSchema });
const PLAN_STATUSES = [
  'executed',
  'pending_approval',
  'refused',
  'duplicate',
  'no_action',
  'notified',
  'failed',
  'denied',
  'expired',
  'void',
] as const;

export function automationRoutes(app: FastifyInstance, core: Core): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const admin = requireSession(core, ADMIN_ROLES);
  const owner = requireSession(core, ['OWNER']);
  const audited = auditRefusals(core);
  const tags = ['automation'];
  const base = '/v1/accounts/:account/automation';
  const view = (account: string) => automationView(core.database.db, account, core.response.defaults);
  const Reason = Type.Object(
    { reason: Type.Optional(Type.String({ maxLength: 500 })) },
    { additionalProperties: false },
  );

  r.get(
    base,
    {
      preValidation: admin,
      schema: {
        summary: 'The kill switch, the breaker cap and tripped breakers',
        tags,
        params: AccountParams,
        response: { 200: AutomationSchema, ...Errors },
      },
    },
    async (request) => view(request.params.account),
  );
  for (const [verb, paused, summary] of [
    ['pause', true, 'Kill switch: from now on every plan waits for approval'],
    ['resume', false, 'Let playbooks in auto mode execute again'],
  ] as const) {
    r.post(
      `${base}::${verb}`,
      {
        preValidation: admin,
        ...audited(`automation.${verb}`),
        schema: {
          summary,
          tags,
          params: AccountParams,
          body: Type.Union([Reason, Type.Null()]),
          response: { 200: AutomationSchema, ...Errors },
        },
      },
      async (request) => {
        await setPaused(core.response, callerContext(request), request.params.account, paused, request.body?.reason);
        return view(request.params.account);
      },
    );
  }
  r.put(
    `${base}/breaker`,
    {
      preValidation: admin,
      ...audited('automation.breaker_cap'),
      schema: {
        summary: "The account's blast-radius cap: executed suspensions per sliding window",
        tags,
        params: AccountParams,
        body: Type.Object(
          {
            max_actions: Type.Integer({ minimum: 1, maximum: MAX_BREAKER_ACTIONS }),
            window_seconds: Type.Integer({ minimum: 1, maximum: 604_800 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: AutomationSchema, ...Errors },
      },
    },
    async (request) => {
      await setBreakerCap(core.response, callerContext(request), request.params.account, request.body);
      return view(request.params.account);
    },
  );
  r.post(
    `${base}::resetBreaker`,
    {
      preValidation: admin,
      ...audited('automation.breaker_reset'),
      schema: {
        summary: 'Reset tripped breakers (all, or one scope); the audit entry lists the subjects they held back',
        tags,
        params: AccountParams,
        body: Type.Union([
          Type.Object({ scope: Type.Optional(Type.String({ maxLength: 100 })) }, { additionalProperties: false }),
          Type.Null(),
        ]),
        response: { 200: AutomationSchema, ...Errors },
      },
    },
    async (request) => {
      await resetBreakers(core.response, callerContext(request), request.params.account, request.body?.scope);
      return view(request.params.account);
    },
  );

  r.get(
    '/v1/accounts/:account/automation/restore-policy',
    {
      preValidation: admin,
      schema: {
        summary: 'How many people a restore needs, and the approver group',
        tags,
        params: AccountParams,
        response: { 200: RestorePolicySchema, ...Errors },
      },
    },
    async (request) => restorePolicyView(await readAutomation(core.database.db, request.params.account)),
  );
  r.put(
    '/v1/accounts/:account/automation/restore-policy',
    {
      preValidation: owner,
      ...audited('automation.restore_policy'),
      schema: {
        summary:
          'How many people a restore needs (0: restore-after runs unattended; 2: the two-person rule), and the ' +
          'approver group (OWNERs only)',
        tags,
        params: AccountParams,
        body: Type.Object(
          {
            restore_approvals: Type.Integer({ minimum: 0, maximum: 2 }),
            approver_group_id: Type.Union([IdSchema, Type.Null()]),
          },
          { additionalProperties: false },
        ),
        response: { 200: RestorePolicySchema, ...Errors, 409: RpcStatusSchema },
      },
    },
    async (request) =>
      restorePolicyView(
        await setRestorePolicy(core.response, callerContext(request), request.params.account, request.body),
      ),
  );

  const plans = '/v1/accounts/:account/plans';
  r.get(
    plans,
    {
      preValidation: admin,
      schema: {
        summary: 'Plans, newest first',
        tags,
        params: AccountParams,
        querystring: Type.Object({
          status: Type.Optional(Type.Union(PLAN_STATUSES.map((s) => Type.Literal(s)))),
          max_page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
        }),
        response: { 200: Type.Object({ plans: Type.Array(PlanSchema) }), ...Errors },
      },
    },
    async (request) => ({
      plans: (
        await listPlans(core.database.db, {
          accountId: request.params.account,
          status: request.query.status,
          limit: request.query.max_page_size ?? 100,
        })
      ).map(planView),
    }),
  );
  r.get(
    `${plans}/:plan`,
    {
      preValidation: admin,
      schema: {
        summary: 'A plan with every verdict',
        tags,
        params: Type.Object({ account: IdSchema, plan: IdSchema }),
        response: { 200: PlanSchema, ...Errors },
      },
    },
    async (request) => {
      const plan = await findPlan(core.database.db, request.params.account, request.params.plan);
      if (!plan) throw new AppError('PLAN_NOT_FOUND', { metadata: { plan_id: request.params.plan } });
      return planView(plan);
    },
  );
}
