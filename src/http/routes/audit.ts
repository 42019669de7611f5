/**
 * The audit log over HTTP, for apps holding `audit:read` and OWNER/ADMIN sessions of the account: the
 * latest signed checkpoint, the export `cordon audit verify` checks, and the checkpoint key (public).
 */
import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../app.js';
import { logOrigin } from '../../audit/checkpointer.js';
import { exportLog } from '../../audit/export.js';
import { requirePermissionOrAdmin } from '../../auth/session-guard.js';
import { AppError } from '../../errors.js';
import { findCheckpoint } from '../../store/checkpoints.js';
import { RpcStatusSchema } from '../schemas.js';

const Errors = { 400: RpcStatusSchema, 401: RpcStatusSchema, 403: RpcStatusSchema, 404: RpcStatusSchema };
const AccountParams = Type.Object({ account: Type.String({ pattern: '^[A-Z2-7]{26}$' }) });

export function auditRoutes(app: FastifyInstance, core: Core): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const reader = requirePermissionOrAdmin(core, 'audit:read');

  r.get(
    '/v1/audit/keys',
    {
      schema: {
        summary: 'The public key that signs audit checkpoints, as a C2SP verifier key',
        tags: ['audit'],
        response: { 200: Type.Object({ keys: Type.Array(Type.Object({ name: Type.String(), verifier_key: Type.String(), algorithm: Type.Literal('Ed25519') })) }) },
      },
    },
    async () => ({ keys: [{ name: core.checkpointKey.name, verifier_key: core.checkpointKey.verifierKey, algorithm: 'Ed25519' as const }] }),
  );

  r.get(
    '/v1/accounts/:account/audit/checkpoint',
    {
      preHandler: reader,
      schema: {
        summary: "The account log's latest signed checkpoint (C2SP signed note with a tlog-checkpoint body)",
        tags: ['audit'],
        params: AccountParams,
        response: { 200: Type.Object({ origin: Type.String(), size: Type.Integer(), root: Type.String({ description: 'base64' }), signed_note: Type.String(), signed_time: Type.String() }), ...Errors },
      },
    },
    async (request) => {
      const checkpoint = await findCheckpoint(core.database.db, request.params.account);
      if (!checkpoint) throw new AppError('NOT_FOUND', { description: 'no checkpoint signed yet' });
      return {
        origin: logOrigin(core.checkpointKey, request.params.account),
        size: checkpoint.size,
        root: checkpoint.root.toString('base64'),
        signed_note: checkpoint.note,
        signed_time: checkpoint.signed_at.toISOString(),
      };
    },
  );

  r.get(
    '/v1/accounts/:account/audit/export',
    {
      preHandler: reader,
      schema: {
        summary: 'The log up to its latest checkpoint as JSON Lines, for `cordon audit verify`',
        tags: ['audit'],
        produces: ['application/x-ndjson'],
        params: AccountParams,
        response: { 200: Type.String({ description: 'JSON Lines: a header, then one entry a line' }), ...Errors },
      },
    },
    async (request, reply) => {
      const lines = exportLog(core.database.db, core.checkpointKey, request.params.account);
      // The first line is read before answering, so a log without a checkpoint is a clean 404.
      const first = await lines.next();
      const rest = async function* () {
        if (!first.done) yield first.value;
        yield* lines;
      };
      return reply.type('application/x-ndjson').header('cache-control', 'no-store').send(Readable.from(rest()) as unknown as string);
    },
  );
}
