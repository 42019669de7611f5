/**
 * Approvals and containments, for people only (sign-in sessions; no app can approve or restore):
 * pending plans, `:approve` / `:deny` bound to the plan's action digest, containment records, `:restore`
 * under the restore policy, and the restore policy itself.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../app.js';
import { ADMIN_ROLES, personOf, requireSession } from '../../auth/session-guard.js';
import { AppError } from '../../errors.js';
import { decidePlan } from '../../response/approvals.js';
import { approverOf, isApprover } from '../../response/approvers.js';
import { isoOrNull, planView } from '../../response/engine.js';
import { requestRestore, setRestorePolicy, type RestoreReport } from '../../response/restores.js';
import type { ContainmentSnapshot } from '../../storage/schema.js';
import type { DecisionRow } from '../../store/approvals.js';
import { listDecisions } from '../../store/approvals.js';
import { findContainment, listContainments, type ContainmentRow } from '../../store/containments.js';
import { findPlan, listPlans } from '../../store/plans.js';
import { auditRefusals, callerContext } from '../audited-calls.js';
import { IdSchema, RpcStatusSchema } from '../schemas.js';
import { PlanSchema } from './signal-views.js';

const Errors = { 400: RpcStatusSchema, 401: RpcStatusSchema, 403: RpcStatusSchema, 404: RpcStatusSchema, 409: RpcStatusSchema };
const AccountParams = Type.Object({ account: IdSchema });
const Time = Type.String({ format: 'date-time' });
const NullableTime = Type.Union([Time, Type.Null()]);
const Reason = Type.String({ minLength: 1, maxLength: 500 });

const DecisionSchema = Type.Object({ approver_id: Type.String(), decision: Type.String(), reason: Type.String(), action_digest: Type.String(), decide_time: Time }, { title: 'Decision' });
const PlanWithDecisions = Type.Object({ plan: PlanSchema, decisions: Type.Array(DecisionSchema) });

export const ContainmentSchema = Type.Object(
  {
    id: Type.String(),
    user_id: Type.String(),
    plan_id: Type.Union([Type.String(), Type.Null()]),
    locked: Type.Boolean(),
    status: Type.String({ description: 'open or closed' }),
    snapshot: Type.Object({ state: Type.String(), role: Type.String(), group_ids: Type.Array(Type.String()), sessions_revoked: Type.Array(Type.String()) }),
    cause: Type.Record(Type.String(), Type.Unknown()),
    opened_by: Type.Record(Type.String(), Type.Unknown()),
    open_time: Time,
    restore_after_time: NullableTime,
    restore_request_time: NullableTime,
    close_reason: Type.Union([Type.String(), Type.Null()], { description: 'restored, false_positive, reactivated (Users API) or released (containments:release)' }),
    closed_by: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    close_time: NullableTime,
  },
  { title: 'Containment' },
);

const RestoreResult = Type.Object({
  status: Type.String({ description: 'restored, or pending_approval (the restore policy needs more people)' }),
  plan: PlanSchema,
  containment: ContainmentSchema,
  drift: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  verification: Type.Union([Type.Record(Type.String(), Type.Boolean()), Type.Null()]),
  voided_plans: Type.Array(Type.String()),
});

export function containmentView(c: ContainmentRow) {
  return {
    id: c.id,
    user_id: c.user_id,
    plan_id: c.plan_id,
    locked: c.locked,
    status: c.status,
    snapshot: c.snapshot as ContainmentSnapshot,
    cause: c.cause as Record<string, unknown>,
    opened_by: c.opened_by as Record<string, unknown>,
    open_time: new Date(c.opened_at).toISOString(),
    restore_after_time: isoOrNull(c.restore_after),
    restore_request_time: isoOrNull(c.restore_requested_at),
    close_reason: c.close_reason,
    closed_by: c.closed_by as Record<string, unknown> | null,
    close_time: isoOrNull(c.closed_at),
  };
}

const decisionView = (d: DecisionRow) => ({ approver_id: d.approver_id, decision: d.decision, reason: d.reason, action_digest: d.action_digest, decide_time: new Date(d.created_at).toISOString() });

export function containmentRoutes(app: FastifyInstance, core: Core): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  // Deciding and restoring are a person's acts: never the local operator's.
  const person = requireSession(core, undefined, { operator: false });
  const anyone = requireSession(core);
  const admin = requireSession(core, ADMIN_ROLES);
  const owner = requireSession(core, ['OWNER']);
  const audited = auditRefusals(core);
  const tags = ['containment'];
  const db = core.database.db;
  // Pending plans are for the people who may decide them.
  const reviewer = async (request: FastifyRequest) => {
    await anyone(request);
    const human = request.human!;
    // The local operator, like an OWNER, may see every pending plan (it decides none).
    if (human.session && !(await isApprover(db, human.session.account_id, approverOf(human)))) {
      throw new AppError('PERMISSION_DENIED', { description: 'pending plans are for OWNERs, ADMINs and members of the approver group' });
    }
  };
  const PlanParams = Type.Object({ account: IdSchema, plan: IdSchema });

  r.get(
    '/v1/accounts/:account/approvals',
    { preValidation: reviewer, schema: { summary: 'Plans waiting for approval (suspensions and restores), newest first', tags, params: AccountParams, response: { 200: Type.Object({ plans: Type.Array(PlanSchema) }), ...Errors } } },
    async (request) => ({ plans: (await listPlans(db, { accountId: request.params.account, status: 'pending_approval', limit: 1000 })).map(planView) }),
  );
  r.get(
    '/v1/accounts/:account/plans/:plan/decisions',
    { preValidation: reviewer, schema: { summary: "A plan with its people's decisions", tags, params: PlanParams, response: { 200: PlanWithDecisions, ...Errors } } },
    async (request) => {
      const plan = await findPlan(db, request.params.account, request.params.plan);
      if (!plan) throw new AppError('PLAN_NOT_FOUND', { metadata: { plan_id: request.params.plan } });
      return { plan: planView(plan), decisions: (await listDecisions(db, plan.account_id, plan.id)).map(decisionView) };
    },
  );
  for (const decision of ['approve', 'deny'] as const) {
    r.post(
      `/v1/accounts/:account/plans/:plan(^[^:]+)::${decision}`,
      {
        preValidation: person,
        ...audited(`plan.${decision}`),
        schema: {
          summary: decision === 'approve' ? 'Approve a pending plan: the last approval needed executes it' : 'Deny a pending plan',
          description: 'Only people decide: OWNERs, ADMINs or members of the approver group, never the subject or whoever asked. `action_digest` must be the one the plan shows.',
          tags,
          params: PlanParams,
          body: Type.Object({ reason: Reason, action_digest: Type.String({ pattern: '^[0-9a-f]{64}$' }) }, { additionalProperties: false }),
          response: { 200: PlanWithDecisions, ...Errors },
        },
      },
      async (request) => {
        const { plan, decisions } = await decidePlan(core.response, approverOf(personOf(request)), request.params.account, request.params.plan, {
          decision,
          reason: request.body.reason,
          actionDigest: request.body.action_digest,
        });
        return { plan: planView(plan), decisions: decisions.map(decisionView) };
      },
    );
  }

  const base = '/v1/accounts/:account/containments';
  const ContainmentParams = Type.Object({ account: IdSchema, containment: IdSchema });
  r.get(
    base,
    {
      preValidation: admin,
      schema: {
        summary: 'Containment records, newest first',
        tags,
        params: AccountParams,
        querystring: Type.Object({ status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('closed')])), max_page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }),
        response: { 200: Type.Object({ containments: Type.Array(ContainmentSchema) }), ...Errors },
      },
    },
    async (request) => ({ containments: (await listContainments(db, { accountId: request.params.account, status: request.query.status, limit: request.query.max_page_size ?? 100 })).map(containmentView) }),
  );
  r.get(`${base}/:containment`, { preValidation: admin, schema: { summary: 'A containment record', tags, params: ContainmentParams, response: { 200: ContainmentSchema, ...Errors } } }, async (request) => {
    const containment = await findContainment(db, request.params.account, request.params.containment);
    if (!containment) throw new AppError('CONTAINMENT_NOT_FOUND', { metadata: { containment_id: request.params.containment } });
    return containmentView(containment);
  });
  r.post(
    `${base}/:containment(^[^:]+)::restore`,
    {
      preValidation: person,
      ...audited('containment.restore'),
      schema: {
        summary: 'Restore a contained user through the record, under the restore policy; verified',
        description: 'The caller counts as the first approval. `false_positive` also marks the signal and frees the breaker slot. A restore that does not verify rolls back (409 RESTORE_UNVERIFIED).',
        tags,
        params: ContainmentParams,
        body: Type.Union([Type.Object({ reason: Type.Optional(Type.Union([Type.Literal('restored'), Type.Literal('false_positive')])) }, { additionalProperties: false }), Type.Null()]),
        response: { 200: RestoreResult, ...Errors },
      },
    },
    async (request) => {
      const { account, containment: id } = request.params;
      const outcome = await requestRestore(core.response, approverOf(personOf(request)), account, id, request.body?.reason ?? 'restored');
      const report: RestoreReport | undefined = outcome.status === 'restored' ? outcome.report : undefined;
      const containment = report?.containment ?? (await findContainment(db, account, id))!;
      return { status: outcome.status, plan: planView(outcome.plan), containment: containmentView(containment), drift: report?.drift ?? null, verification: report?.verification ?? null, voided_plans: report?.voided_plans ?? [] };
    },
  );

  r.put(
    '/v1/accounts/:account/automation/restore-policy',
    {
      preValidation: owner,
      ...audited('automation.restore_policy'),
      schema: {
        summary: 'How many people a restore needs (0: restore-after runs unattended; 2: the two-person rule), and the approver group (OWNERs only)',
        tags: ['automation'],
        params: AccountParams,
        body: Type.Object({ restore_approvals: Type.Integer({ minimum: 0, maximum: 2 }), approver_group_id: Type.Union([IdSchema, Type.Null()]) }, { additionalProperties: false }),
        response: { 200: Type.Object({ restore_approvals: Type.Integer(), approver_group_id: Type.Union([Type.String(), Type.Null()]) }), ...Errors },
      },
    },
    async (request) => {
      const after = await setRestorePolicy(core.response, callerContext(request), request.params.account, request.body);
      return { restore_approvals: after.restore_approvals, approver_group_id: after.approver_group_id };
    },
  );
}
