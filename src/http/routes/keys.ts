/**
 * The token-signing keys (`cordon keys`), for the local operator only (http/operator.ts): listing them,
 * rotating, and revoking a leaked one, which stops every token it signed at once on every node.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core.js';
import { callerContext } from '../audited-calls.js';
import { requireOperator } from '../operator.js';
import { RpcStatusSchema } from '../schemas.js';

const Errors = {
  400: RpcStatusSchema,
  401: RpcStatusSchema,
  403: RpcStatusSchema,
  404: RpcStatusSchema,
  409: RpcStatusSchema,
};
const Time = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const KeySchema = Type.Object(
  {
    kid: Type.String(),
    status: Type.String(),
    create_time: Type.String({ format: 'date-time' }),
    retire_time: Time,
    revoke_time: Time,
  },
  { title: 'SigningKey' },
);
const tags = ['keys'];
const base = '/v1/signing-keys';

export function keysRoutes(app: FastifyInstance, core: Core): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    base,
    {
      preHandler: requireOperator,
      schema: {
        summary: 'Every signing key, newest first: active, retired or revoked',
        tags,
        response: { 200: Type.Object({ keys: Type.Array(KeySchema) }), ...Errors },
      },
    },
    async () => ({
      keys: await core.keys.list(),
    }),
  );

  r.post(
    `${base}::rotate`,
    {
      preHandler: requireOperator,
      schema: {
        summary: 'Make a new signing key; tokens of the old one verify until they expire',
        tags,
        response: { 200: Type.Object({ kid: Type.String(), retired: Type.Array(Type.String()) }), ...Errors },
      },
    },
    async (request) => core.keys.rotate(core.audit, callerContext(request)),
  );

  r.post(
    `${base}/:kid(^[^:]+)::revoke`,
    {
      preHandler: requireOperator,
      schema: {
        summary: 'Revoke a signing key: every token it signed stops at once (revoking the active key makes a new one)',
        tags,
        params: Type.Object({ kid: Type.String({ maxLength: 200 }) }),
        response: {
          200: Type.Object({ kid: Type.String(), replaced_by: Type.Union([Type.String(), Type.Null()]) }),
          ...Errors,
        },
      },
    },
    async (request) => core.keys.revoke(core.audit, callerContext(request), request.params.kid),
  );
}
