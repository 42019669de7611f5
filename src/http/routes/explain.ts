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
import { findPeople } from '../../store/people.js';
import { ExplanationSchema, explanationView } from '../views/explain.js';
import { idsIn, PeopleSchema } from '../views/people.js';

const Errors = { 400: RpcStatusSchema, 401: RpcStatusSchema, 403: RpcStatusSchema, 404: RpcStatusSchema };

export function explainRoutes(app: FastifyInstance, core: Core): void {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/v1/accounts/:account/explain/:id',
    {
      preValidation: requirePermissionOrAdmin(core, 'audit:read'),
      schema: {
        summary:
          'The chain behind an action: signal, playbook, verdicts, approvals, executing principal, outcome, audit ' +
          'entry and its inclusion proof',
        description:
          '`id` is a plan id, a containment id, a signal id or an audit index. `proof` is null until a signed ' +
          "checkpoint covers the entry. `nhi`: a non-human identity's leak and what its containment revoked.",
        tags: ['containment'],
        params: Type.Object({ account: IdSchema, id: Type.String({ pattern: '^([A-Z2-7]{26}|[0-9]{1,15})$' }) }),
        response: { 200: Type.Intersect([ExplanationSchema, Type.Object({ people: PeopleSchema })]), ...Errors },
      },
    },
    async (request) => {
      const { account, id } = request.params;
      const chain = explanationView(
        await explain({ db: core.database.db, checkpointKey: core.checkpointKey }, account, id),
      );
      // The people it names (subject, approvers, actors), each once: the proof's copy of the entry is left out.
      const { proof: _proof, ...named } = chain;
      return { ...chain, people: await findPeople(core.database.db, account, idsIn(named)) };
    },
  );
}
