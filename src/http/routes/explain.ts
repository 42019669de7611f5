/**
 * `GET /v1/accounts/{account}/explain/{id}`: the chain behind an action (response/explain.ts), for an
 * OWNER or ADMIN session or an app holding audit:read. The inclusion proof comes with it, for the
 * caller to check offline (`cordon explain` does).
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core.js';
import { requirePermissionOrAdmin } from '../guards/session.js';
import { explain } from '../../response/explain.js';
import { IdSchema, RpcStatusSchema } from '../schemas.js';
import { PlanSchema } from './signal-views.js';

const Errors = { 400: RpcStatusSchema, 401: RpcStatusSchema, 403: RpcStatusSchema, 404: RpcStatusSchema };
const Obj = Type.Record(Type.String(), Type.Unknown());
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

const ExplanationSchema = Type.Object(
  {
    id: Type.String(),
    kind: Type.String({ description: 'plan, containment or audit_entry: what the id named' }),
    signal: Nullable(Obj),
    submitted_by: Nullable(Type.Object({ actor: Type.Object({ type: Type.String(), id: Type.String() }), authz: Obj, index: Type.Integer() })),
    playbook: Nullable(Type.Object({ name: Type.String(), version: Type.Integer(), content_hash: Nullable(Type.String()) })),
    plan: Nullable(PlanSchema),
    approvals: Type.Array(Type.Object({ approver_id: Type.String(), decision: Type.String(), reason: Type.String(), time: Type.String() })),
    action: Nullable(Obj),
    outcome: Type.Object({ plan_status: Nullable(Type.String()), user_id: Nullable(Type.String()), user_state: Nullable(Type.String()), containment: Nullable(Obj) }),
    proof: Nullable(
      Type.Object({
        entry: Obj,
        tree_size: Type.Integer(),
        leaf_hash: Type.String(),
        inclusion_path: Type.Array(Type.String()),
        signed_note: Type.String(),
        origin: Type.String(),
        verifier_key: Type.String(),
      }),
    ),
  },
  { title: 'Explanation' },
);

export function explainRoutes(app: FastifyInstance, core: Core): void {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/v1/accounts/:account/explain/:id',
    {
      preValidation: requirePermissionOrAdmin(core, 'audit:read'),
      schema: {
        summary: 'The chain behind an action: signal, playbook, verdicts, approvals, executing principal, outcome, audit entry and its inclusion proof',
        description: '`id` is a plan id, a containment id or an audit index. `proof` is null until a signed checkpoint covers the entry.',
        tags: ['containment'],
        params: Type.Object({ account: IdSchema, id: Type.String({ pattern: '^([A-Z2-7]{26}|[0-9]{1,15})$' }) }),
        response: { 200: ExplanationSchema, ...Errors },
      },
    },
    async (request) => {
      const explanation = await explain({ db: core.database.db, checkpointKey: core.checkpointKey }, request.params.account, request.params.id);
      return { ...explanation, action: explanation.action && { ...explanation.action }, proof: explanation.proof && { ...explanation.proof, entry: { ...explanation.proof.entry } } };
    },
  );
}
