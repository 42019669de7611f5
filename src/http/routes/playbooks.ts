/**
 * Playbooks as code and the protected-principal policy, for OWNER and ADMIN sessions: apply (a new
 * version only when the content changes), list the current versions, a playbook's history, and the
 * published JSON Schema that `cordon playbooks lint` and editors validate against.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core.js';
import { ADMIN_ROLES, requireSession } from '../guards/session.js';
import { AppError } from '../../errors.js';
import { PLAYBOOK_NAME, PlaybookSchema } from '../../response/playbook.js';
import { applyPlaybooks } from '../../response/playbooks.js';
import { applyPolicy, ProtectionPolicySchema, readPolicy } from '../../response/protection-policy.js';
import { latestPlaybooks, playbookHistory, policyHistory } from '../../store/playbooks.js';
import { auditRefusals, callerContext } from '../audited-calls.js';
import { findPeople } from '../../store/people.js';
import { IdSchema, RpcStatusSchema } from '../schemas.js';
import { idsIn, PeopleSchema } from '../views/people.js';
import {
  AppliedSchema,
  AppliedPolicySchema,
  Open,
  PolicySchema,
  policyView,
  VersionSchema,
  versionView,
} from '../views/playbooks.js';

const Errors = {
  400: RpcStatusSchema,
  401: RpcStatusSchema,
  403: RpcStatusSchema,
  404: RpcStatusSchema,
  409: RpcStatusSchema,
};
const AccountParams = Type.Object({ account: IdSchema });
export function playbooksRoutes(app: FastifyInstance, core: Core): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const admin = requireSession(core, ADMIN_ROLES);
  const owner = requireSession(core, ['OWNER']);
  const audited = auditRefusals(core);
  const tags = ['playbooks'];
  const playbooks = '/v1/accounts/:account/playbooks';
  /** The people who made these versions (`created_by` is `user:ID` for a person), in one query. */
  const makers = (accountId: string, versions: Array<{ created_by: string }>) =>
    findPeople(
      core.database.db,
      accountId,
      versions.map((v) => v.created_by.replace(/^user:/, '')),
    );

  r.get(
    '/v1/schemas/playbook.json',
    { schema: { summary: 'The JSON Schema of a playbook document', tags, response: { 200: Open } } },
    async () => PlaybookSchema,
  );
  r.get(
    '/v1/schemas/protection-policy.json',
    { schema: { summary: 'The JSON Schema of the protected-principal policy', tags, response: { 200: Open } } },
    async () => ProtectionPolicySchema,
  );

  r.post(
    `${playbooks}::apply`,
    {
      preValidation: admin,
      ...audited('playbook.apply'),
      schema: {
        summary: 'Apply playbooks: each gets a new version when its content hash changed (all or nothing)',
        tags,
        params: AccountParams,
        body: Type.Object(
          { playbooks: Type.Array(Type.Unknown(), { minItems: 1, maxItems: 100 }) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ applied: Type.Array(AppliedSchema) }), ...Errors },
      },
    },
    async (request) => ({
      applied: await applyPlaybooks(
        core.response,
        callerContext(request),
        request.params.account,
        request.body.playbooks,
      ),
    }),
  );
  r.get(
    playbooks,
    {
      preValidation: admin,
      schema: {
        summary: 'The current version of every playbook',
        tags,
        params: AccountParams,
        response: { 200: Type.Object({ playbooks: Type.Array(VersionSchema), people: PeopleSchema }), ...Errors },
      },
    },
    async (request) => {
      const latest = await latestPlaybooks(core.database.db, request.params.account);
      return { playbooks: latest.map(versionView), people: await makers(request.params.account, latest) };
    },
  );
  r.get(
    `${playbooks}/:name`,
    {
      preValidation: admin,
      schema: {
        summary: "A playbook's versions, newest first",
        tags,
        params: Type.Object({ account: IdSchema, name: Type.String({ pattern: PLAYBOOK_NAME }) }),
        response: { 200: Type.Object({ versions: Type.Array(VersionSchema), people: PeopleSchema }), ...Errors },
      },
    },
    async (request) => {
      const versions = await playbookHistory(core.database.db, request.params.account, request.params.name);
      if (versions.length === 0) throw new AppError('NOT_FOUND', { description: `no playbook ${request.params.name}` });
      return { versions: versions.map(versionView), people: await makers(request.params.account, versions) };
    },
  );

  const policy = '/v1/accounts/:account/protection-policy';
  r.get(
    policy,
    {
      preValidation: admin,
      schema: {
        summary: 'The current protected-principal policy',
        tags,
        params: AccountParams,
        response: { 200: Type.Intersect([PolicySchema, Type.Object({ people: PeopleSchema })]), ...Errors },
      },
    },
    async (request) => {
      const current = await readPolicy(core.database.db, request.params.account);
      return {
        ...current,
        people: await findPeople(core.database.db, request.params.account, idsIn(current.document)),
      };
    },
  );
  r.put(
    policy,
    {
      preValidation: owner,
      ...audited('policy.apply'),
      schema: {
        summary: 'Apply a new protected-principal policy version (when the content changed; OWNERs only)',
        tags,
        params: AccountParams,
        body: Type.Unknown(),
        response: { 200: AppliedPolicySchema, ...Errors },
      },
    },
    async (request) => {
      const { policy: applied, changed } = await applyPolicy(
        core.response,
        callerContext(request),
        request.params.account,
        request.body,
      );
      return { ...applied, changed };
    },
  );
  r.get(
    `${policy}/versions`,
    {
      preValidation: admin,
      schema: {
        summary: "The policy's versions, newest first",
        tags,
        params: AccountParams,
        response: { 200: Type.Object({ versions: Type.Array(PolicySchema) }), ...Errors },
      },
    },
    async (request) => ({
      versions: (await policyHistory(core.database.db, request.params.account)).map(policyView),
    }),
  );
}
