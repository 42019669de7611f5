/**
 * The audit log over HTTP, for apps holding `audit:read` and OWNER/ADMIN sessions of the account: the
 * latest signed checkpoint, inclusion and consistency proofs (O(log n) stored nodes each), the export
 * `cordon audit verify` checks, and the checkpoint key (public).
 */
import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core.js';
import { logOrigin } from '../../audit/checkpointer.js';
import { exportLog } from '../../audit/export.js';
import { requirePermissionOrAdmin } from '../guards/session.js';
import { AppError } from '../../errors.js';
import { proveConsistency, proveInclusion } from '../../audit/proofs.js';
import { getLogSize, searchEntries } from '../../store/audit.js';
import { findCheckpoint } from '../../store/checkpoints.js';
import { findPeople } from '../../store/people.js';
import { PeopleSchema } from '../views/people.js';
import { PageTokens } from '../page-token.js';
import { IdSchema, RpcStatusSchema } from '../schemas.js';
import { SYSTEM_LOG } from '../../audit/entry.js';

const Errors = { 400: RpcStatusSchema, 401: RpcStatusSchema, 403: RpcStatusSchema, 404: RpcStatusSchema };
const AccountParams = Type.Object({ account: IdSchema });

const b64 = (hash: Buffer) => hash.toString('base64');

/**
 * The size a proof is for: the one asked (a signed checkpoint's), or the latest checkpoint's (covering `index` if it
 * can).
 */
async function proofSize(core: Core, logId: string, asked: number | undefined, index = 0): Promise<number> {
  const checkpoint =
    asked === undefined
      ? await core.latestCheckpoints.covering(logId, index)
      : await findCheckpoint(core.database.db, logId, asked);
  if (!checkpoint)
    throw new AppError('NOT_FOUND', {
      description: asked === undefined ? 'no checkpoint signed yet' : `no checkpoint was signed at size ${asked}`,
    });
  return checkpoint.size;
}

export function auditRoutes(app: FastifyInstance, core: Core): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const reader = requirePermissionOrAdmin(core, 'audit:read');
  const pageTokens = new PageTokens(core.sealer, 'audit entries');

  r.get(
    '/v1/audit/keys',
    {
      schema: {
        summary:
          "The key that signs audit checkpoints, as C2SP verifier keys: with ?log=, that log's (named after the " +
          'log, which is also its checkpoint origin)',
        tags: ['audit'],
        querystring: Type.Object(
          { log: Type.Optional(Type.String({ pattern: `^(?:[A-Z2-7]{26}|${SYSTEM_LOG})$` })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            keys: Type.Array(
              Type.Object({ name: Type.String(), verifier_key: Type.String(), algorithm: Type.Literal('Ed25519') }),
            ),
          }),
          400: RpcStatusSchema,
        },
      },
    },
    async (request) => {
      // Without a log: the key under its base name, which verifies checkpoints signed before logs had names of
      // their own; a log's key is the same key under `<base name>/<log id>`.
      const key = request.query.log === undefined ? core.checkpointKey : core.checkpointKey.forLog(request.query.log);
      return { keys: [{ name: key.name, verifier_key: key.verifierKey, algorithm: 'Ed25519' as const }] };
    },
  );

  r.get(
    '/v1/accounts/:account/audit/checkpoint',
    {
      preHandler: reader,
      schema: {
        summary: "The account log's latest signed checkpoint (C2SP signed note with a tlog-checkpoint body)",
        tags: ['audit'],
        params: AccountParams,
        response: {
          200: Type.Object({
            origin: Type.String(),
            size: Type.Integer(),
            root: Type.String({ description: 'base64' }),
            signed_note: Type.String(),
            signed_time: Type.String(),
          }),
          ...Errors,
        },
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
    '/v1/accounts/:account/audit/entries',
    {
      preHandler: reader,
      schema: {
        summary: 'Numbered entries in index order, filtered, paged (AIP-158: page_size, page_token, next_page_token)',
        tags: ['audit'],
        params: AccountParams,
        querystring: Type.Object(
          {
            page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
            page_token: Type.Optional(Type.String({ maxLength: 256 })),
            start_index: Type.Optional(Type.Integer({ minimum: 0 })),
            start_time: Type.Optional(Type.String({ format: 'date-time' })),
            end_time: Type.Optional(Type.String({ format: 'date-time' })),
            action: Type.Optional(Type.String({ maxLength: 100 })),
            actor: Type.Optional(Type.String({ maxLength: 200 })),
            target_user: Type.Optional(Type.String({ maxLength: 64 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            entries: Type.Array(Type.Object({}, { additionalProperties: true })),
            next_page_token: Type.String(),
            log_size: Type.Integer(),
            people: PeopleSchema,
          }),
          ...Errors,
        },
      },
    },
    async (request) => {
      const { account } = request.params;
      const q = request.query;
      const pageSize = q.page_size ?? 100;
      const filters = JSON.stringify([account, q.start_time, q.end_time, q.action, q.actor, q.target_user]);
      const fromIndex = q.page_token ? Number(pageTokens.read(q.page_token, filters)) : (q.start_index ?? 0);
      const entries = await searchEntries(core.database.db, account, {
        fromIndex,
        limit: pageSize + 1,
        startTime: q.start_time ? new Date(q.start_time) : undefined,
        endTime: q.end_time ? new Date(q.end_time) : undefined,
        action: q.action,
        actorId: q.actor,
        targetUserId: q.target_user,
      });
      const page = entries.slice(0, pageSize);
      const more = entries.length > pageSize;
      return {
        entries: page,
        next_page_token: more ? pageTokens.make(entries[pageSize]!.idx, filters) : '',
        log_size: await getLogSize(core.database.db, account),
        people: await findPeople(
          core.database.db,
          account,
          page.flatMap((e) => [e.actor_id, e.target_id]),
        ),
      };
    },
  );

  r.get(
    '/v1/accounts/:account/audit/entries/:index/proof',
    {
      preHandler: reader,
      schema: {
        summary: 'One entry with its RFC 6962 inclusion proof against the latest (or a named) signed checkpoint',
        tags: ['audit'],
        params: Type.Object({ account: AccountParams.properties.account, index: Type.Integer({ minimum: 0 }) }),
        querystring: Type.Object(
          { tree_size: Type.Optional(Type.Integer({ minimum: 1 })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            index: Type.Integer(),
            tree_size: Type.Integer(),
            leaf_hash: Type.String({ description: 'base64; SHA-256(0x00 || canonical JSON of the leaf)' }),
            inclusion_path: Type.Array(Type.String(), {
              description: 'base64 sibling hashes, leaf to root (RFC 6962 §2.1.1)',
            }),
            entry: Type.Object({}, { additionalProperties: true }),
          }),
          ...Errors,
        },
      },
    },
    async (request) => {
      const { account, index } = request.params;
      const size = await proofSize(core, account, request.query.tree_size, index);
      const { entry, leaf, path } = await proveInclusion(core.database.db, account, index, size);
      return { index, tree_size: size, leaf_hash: b64(leaf), inclusion_path: path.map(b64), entry };
    },
  );

  r.get(
    '/v1/accounts/:account/audit/consistency',
    {
      preHandler: reader,
      schema: {
        summary:
          'RFC 6962 consistency proof between two signed sizes (first = second: empty; first = 0: refused, nothing ' +
          'to prove)',
        tags: ['audit'],
        params: AccountParams,
        querystring: Type.Object(
          { first: Type.Integer({ minimum: 1 }), second: Type.Optional(Type.Integer({ minimum: 1 })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ first: Type.Integer(), second: Type.Integer(), proof: Type.Array(Type.String()) }),
          ...Errors,
        },
      },
    },
    async (request) => {
      const { account } = request.params;
      const second = await proofSize(core, account, request.query.second);
      const { first } = request.query;
      const proof = await proveConsistency(core.database.db, account, first, second);
      return { first, second, proof: proof.map(b64) };
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
      return reply
        .type('application/x-ndjson')
        .header('cache-control', 'no-store')
        .send(Readable.from(rest()) as unknown as string);
    },
  );
}
