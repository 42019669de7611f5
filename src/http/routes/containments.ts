/**
 * Approvals and containments, for people only (sign-in sessions; no app can approve or restore):
 * pending plans, `:approve` / `:deny` bound to the plan's action digest, containment records, and
 * `:restore` under the restore policy (set in routes/automation.ts).
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core.js';
import { ADMIN_ROLES, personOf, requireSession } from '../guards/session.js';
import { AppError } from '../../errors.js';
import { decidePlan } from '../../response/approvals.js';
import { approverOf, isApprover } from '../../response/approvers.js';
import { requestRestore, type RestoreReport } from '../../response/restores.js';
import { listDecisions } from '../../store/approvals.js';
import { findContainment, listContainments, type ContainmentRow } from '../../store/containments.js';
import { findPeople } from '../../store/people.js';
import { findPlan, listPendingPlans } from '../../store/plans.js';
import { listStepsOf } from '../../store/steps.js';
import { auditRefusals } from '../audited-calls.js';
import { IdSchema, RpcStatusSchema } from '../schemas.js';
import {
  ContainmentSchema,
  containmentView,
  PlanWithDecisionsSchema,
  planWithDecisionsView,
  RestoreResultSchema,
  restoreResultView,
} from '../views/containments.js';
import { idsIn, PeopleSchema } from '../views/people.js';
import { NhiSubjectSchema, PendingPlanSchema, pendingPlanView } from '../views/plans.js';
import { readContainmentSecret } from '../../response/nhi-restore.js';

const Errors = {
  400: RpcStatusSchema,
  401: RpcStatusSchema,
  403: RpcStatusSchema,
  404: RpcStatusSchema,
  409: RpcStatusSchema,
};
const AccountParams = Type.Object({ account: IdSchema });
const Reason = Type.String({ minLength: 1, maxLength: 500 });

/**
 * Whom a containment record names: the user, whoever opened or closed it, and (a non-human identity's) the
 * people its app changed in the hour before the leak.
 */
const peopleOfContainment = (c: ContainmentRow) => [
  ...(c.user_id ? [c.user_id] : []),
  ...(c.subject_nhi?.user_id ? [c.subject_nhi.user_id] : []),
  ...idsIn([c.opened_by, c.closed_by, c.subject_nhi ? c.details['app_changes_before'] : null]),
];

export function containmentRoutes(app: FastifyInstance, core: Core): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  // Deciding and restoring are a person's acts: never the local operator's.
  const person = requireSession(core, undefined, { operator: false });
  const anyone = requireSession(core);
  const admin = requireSession(core, ADMIN_ROLES);
  const audited = auditRefusals(core);
  const tags = ['containment'];
  const db = core.database.db;
  // Pending plans are for the people who may decide them.
  const reviewer = async (request: FastifyRequest) => {
    await anyone(request);
    const human = request.human!;
    // The local operator, like an OWNER, may see every pending plan (it decides none).
    if (human.session && !(await isApprover(db, human.session.account_id, approverOf(human)))) {
      throw new AppError('PERMISSION_DENIED', {
        description: 'pending plans are for OWNERs, ADMINs and members of the approver group',
      });
    }
  };
  const PlanParams = Type.Object({ account: IdSchema, plan: IdSchema });

  r.get(
    '/v1/accounts/:account/approvals',
    {
      preValidation: reviewer,
      schema: {
        summary: 'Plans waiting for approval (suspensions and restores), newest first, with their subject and signal',
        tags,
        params: AccountParams,
        response: { 200: Type.Object({ plans: Type.Array(PendingPlanSchema) }), ...Errors },
      },
    },
    async (request) => ({
      plans: (await listPendingPlans(db, request.params.account, 1000)).map(pendingPlanView),
    }),
  );
  r.get(
    '/v1/accounts/:account/plans/:plan/decisions',
    {
      preValidation: reviewer,
      schema: {
        summary: "A plan with its people's decisions",
        tags,
        params: PlanParams,
        response: { 200: PlanWithDecisionsSchema, ...Errors },
      },
    },
    async (request) => {
      const plan = await findPlan(db, request.params.account, request.params.plan);
      if (!plan) throw new AppError('PLAN_NOT_FOUND', { metadata: { plan_id: request.params.plan } });
      return planWithDecisionsView(plan, await listDecisions(db, plan.account_id, plan.id));
    },
  );
  for (const decision of ['approve', 'deny'] as const) {
    r.post(
      `/v1/accounts/:account/plans/:plan(^[^:]+)::${decision}`,
      {
        preValidation: person,
        ...audited(`plan.${decision}`),
        schema: {
          summary:
            decision === 'approve'
              ? 'Approve a pending plan: the last approval needed executes it'
              : 'Deny a pending plan',
          description:
            'Only people decide: OWNERs, ADMINs or members of the approver group, never the subject or whoever ' +
            'asked. `action_digest` must be the one the plan shows.',
          tags,
          params: PlanParams,
          body: Type.Object(
            { reason: Reason, action_digest: Type.String({ pattern: '^[0-9a-f]{64}$' }) },
            { additionalProperties: false },
          ),
          response: { 200: PlanWithDecisionsSchema, ...Errors },
        },
      },
      async (request) => {
        const { plan, decisions } = await decidePlan(
          core.response,
          approverOf(personOf(request)),
          request.params.account,
          request.params.plan,
          {
            decision,
            reason: request.body.reason,
            actionDigest: request.body.action_digest,
          },
        );
        return planWithDecisionsView(plan, decisions);
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
        querystring: Type.Object({
          status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('closed')])),
          max_page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
        }),
        response: {
          200: Type.Object({ containments: Type.Array(ContainmentSchema), people: PeopleSchema }),
          ...Errors,
        },
      },
    },
    async (request) => {
      const rows = await listContainments(db, {
        accountId: request.params.account,
        status: request.query.status,
        limit: request.query.max_page_size ?? 100,
      });
      const steps = await listStepsOf(
        db,
        request.params.account,
        rows.filter((c) => c.targets_state !== null).map((c) => c.id),
      );
      return {
        containments: rows.map((c) => containmentView(c, steps)),
        people: await findPeople(db, request.params.account, rows.flatMap(peopleOfContainment)),
      };
    },
  );
  r.get(
    `${base}/:containment`,
    {
      preValidation: admin,
      schema: {
        summary: 'A containment record',
        tags,
        params: ContainmentParams,
        response: { 200: Type.Intersect([ContainmentSchema, Type.Object({ people: PeopleSchema })]), ...Errors },
      },
    },
    async (request) => {
      const containment = await findContainment(db, request.params.account, request.params.containment);
      if (!containment)
        throw new AppError('CONTAINMENT_NOT_FOUND', { metadata: { containment_id: request.params.containment } });
      return {
        ...containmentView(containment, await listStepsOf(db, containment.account_id, [containment.id])),
        people: await findPeople(db, containment.account_id, peopleOfContainment(containment)),
      };
    },
  );
  r.post(
    `${base}/:containment(^[^:]+)::read-secret`,
    {
      preValidation: admin,
      ...audited('containment.secret_read'),
      schema: {
        summary: 'Read, once, the new secret a containment of a leaked secret made',
        description:
          "A rotation or a restore of an app's or source's containment makes a new secret and keeps it sealed " +
          'until an OWNER or ADMIN reads it here (an app an OWNER made: an OWNER). It is then gone from Cordon: ' +
          'a second read is 404 SECRET_ALREADY_READ. Never sent in a notification.',
        tags,
        params: ContainmentParams,
        response: {
          200: Type.Object({
            containment_id: Type.String(),
            subject: NhiSubjectSchema,
            secret: Type.String({ description: 'the client secret, URL token or HMAC secret, shown this once' }),
          }),
          ...Errors,
        },
      },
    },
    async (request, reply) => {
      const { account, containment } = request.params;
      const deps = { ...core.response, keys: core.keys, issuer: core.issuer };
      const read = await readContainmentSecret(deps, request.human!.ctx, account, containment);
      reply.header('cache-control', 'no-store');
      return read;
    },
  );
  r.post(
    `${base}/:containment(^[^:]+)::restore`,
    {
      preValidation: person,
      ...audited('containment.restore'),
      schema: {
        summary: 'Restore a contained user through the record, under the restore policy; verified',
        description:
          'The caller counts as the first approval. `false_positive` also marks the signal and frees the breaker ' +
          'slot. A restore that does not verify rolls back (409 RESTORE_UNVERIFIED).',
        tags,
        params: ContainmentParams,
        body: Type.Union([
          Type.Object(
            { reason: Type.Optional(Type.Union([Type.Literal('restored'), Type.Literal('false_positive')])) },
            { additionalProperties: false },
          ),
          Type.Null(),
        ]),
        response: { 200: RestoreResultSchema, ...Errors },
      },
    },
    async (request) => {
      const { account, containment: id } = request.params;
      const outcome = await requestRestore(
        core.response,
        approverOf(personOf(request)),
        account,
        id,
        request.body?.reason ?? 'restored',
      );
      const report: RestoreReport | undefined = outcome.status === 'restored' ? outcome.report : undefined;
      const containment = report?.containment ?? (await findContainment(db, account, id))!;
      const steps = await listStepsOf(db, account, [id]);
      return restoreResultView(outcome.status, outcome.plan, containment, report, steps);
    },
  );
}
