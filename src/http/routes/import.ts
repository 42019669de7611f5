/**
 * `POST /v1/accounts/{account}/users:import`: a bulk import of users, all or nothing
 * (directory/import.ts), for OWNER and ADMIN sessions of the account (an ADMIN imports MEMBERs only).
 *
 * The body is the file itself, JSON Lines (`application/x-ndjson`) or CSV (`text/csv`); `?format=jsonl|csv`
 * overrides the content type. The answer is `application/x-ndjson`, one event a line, written as the
 * import goes:
 *   {"type":"progress","done":0,"total":N}      once the file parsed, then after each batch written
 *   {"type":"done","imported":N,"seconds":S}     the import committed
 *   {"type":"error","code":"…","message":"…","problems":[{"line":L,"problem":"…"}]}
 *                                                 nothing was imported (problems: the rows at fault)
 * A refusal before the import starts (authentication, role, an unknown format) is an ordinary error answer.
 */
import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core.js';
import { ADMIN_ROLES, requireSession } from '../guards/session.js';
import { assertMayChangeApprovers } from '../../directory/approver-group.js';
import { importUsers, ImportRejected, parseImport, type ImportFormat } from '../../directory/import.js';
import { assertMayManage } from '../../directory/user-admin.js';
import { AppError, isAppError } from '../../errors.js';
import { auditRefusals, callerContext } from '../audited-calls.js';
import { IdSchema, RpcStatusSchema } from '../schemas.js';

/** Large enough for a directory of a few hundred thousand people in one file. */
export const IMPORT_BODY_LIMIT = 256 * 1024 * 1024;
const FORMAT_OF_TYPE: Record<string, ImportFormat> = {
  'application/x-ndjson': 'jsonl',
  'application/jsonl': 'jsonl',
  'text/csv': 'csv',
};
const Errors = {
  400: RpcStatusSchema,
  401: RpcStatusSchema,
  403: RpcStatusSchema,
  404: RpcStatusSchema,
  413: RpcStatusSchema,
  415: RpcStatusSchema,
};

/** One line of the answer. */
export type ImportEvent =
  | { type: 'progress'; done: number; total: number }
  | { type: 'done'; imported: number; seconds: number }
  | { type: 'error'; code: string; message: string; problems?: Array<{ line: number; problem: string }> };

/** The parsed file, or the rejection naming its problems (an `error` event, not an error answer). */
function parseOrRejection(text: string, format: ImportFormat): ReturnType<typeof parseImport> | ImportRejected {
  try {
    return parseImport(text, format);
  } catch (error) {
    if (error instanceof ImportRejected) return error;
    throw error;
  }
}

/** The events of `run` as JSON lines, each written as soon as it happens. */
async function* eventLines(run: (emit: (event: ImportEvent) => void) => Promise<void>): AsyncGenerator<string> {
  const queue: string[] = [];
  let finished = false;
  let wake: (() => void) | undefined;
  const emit = (event: ImportEvent) => {
    queue.push(JSON.stringify(event) + '\n');
    wake?.();
  };
  void run(emit).finally(() => {
    finished = true;
    wake?.();
  });
  for (;;) {
    if (queue.length > 0) yield queue.shift()!;
    else if (finished) return;
    else await new Promise<void>((resolve) => (wake = resolve));
  }
}

export function importRoutes(app: FastifyInstance, core: Core): void {
  // In a scope of its own, so that this route alone takes these content types.
  void app.register(async (scope) => importRoute(scope, core));
}

function importRoute(app: FastifyInstance, core: Core): void {
  // The file is read whole, as text: the import is all or nothing, so it is checked whole first.
  app.addContentTypeParser(
    Object.keys(FORMAT_OF_TYPE),
    { parseAs: 'string', bodyLimit: IMPORT_BODY_LIMIT },
    (_request, body, done) => done(null, body),
  );
  const admin = requireSession(core, ADMIN_ROLES);

  app.withTypeProvider<TypeBoxTypeProvider>().post(
    '/v1/accounts/:account/users::import',
    {
      onRequest: admin,
      bodyLimit: IMPORT_BODY_LIMIT,
      ...auditRefusals(core)('user.import'),
      schema: {
        summary:
          'Import users from JSON Lines or CSV (email, display_name, role, groups, externally_managed), all or ' +
          'nothing, with progress events',
        description:
          'The body is the file (`application/x-ndjson` or `text/csv`, or `?format=`). The answer is JSON Lines of ' +
          'events: `progress` {done, total}, then `done` {imported, seconds} or `error` {code, message, ' +
          'problems}; on `error` nothing was imported.',
        tags: ['directory'],
        consumes: Object.keys(FORMAT_OF_TYPE),
        produces: ['application/x-ndjson'],
        params: Type.Object({ account: IdSchema }),
        querystring: Type.Object(
          { format: Type.Optional(Type.Union([Type.Literal('jsonl'), Type.Literal('csv')])) },
          { additionalProperties: false },
        ),
        body: Type.String(),
        response: { 200: Type.String({ description: 'JSON Lines of import events' }), ...Errors },
      },
    },
    async (request, reply) => {
      const format =
        request.query.format ??
        FORMAT_OF_TYPE[(request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()];
      if (!format)
        throw new AppError('INVALID_ARGUMENT', {
          description: 'send the file as application/x-ndjson or text/csv, or say ?format=jsonl|csv',
        });
      const { account } = request.params;
      const ctx = callerContext(request);
      const actorRole = request.human?.session?.user.role;
      // Parsed and checked before the answer starts: a refusal (the role, the approver group) is an
      // ordinary, audited error answer; a file with problems is an `error` event naming them.
      const file = parseOrRejection(request.body, format);
      if (!(file instanceof ImportRejected)) {
        for (const { user } of file.rows) assertMayManage(actorRole, user.role ?? 'MEMBER', 'import');
        await assertMayChangeApprovers(core.database.db, account, actorRole, {
          names: [...new Set(file.rows.flatMap((r) => r.user.groups ?? []))],
        });
      }
      const run = async (emit: (event: ImportEvent) => void) => {
        const started = Date.now();
        try {
          if (file instanceof ImportRejected) throw file;
          emit({ type: 'progress', done: 0, total: file.rows.length });
          const { imported } = await importUsers(core.directory, ctx, account, file, {
            onProgress: (done, total) => emit({ type: 'progress', done, total }),
          });
          emit({ type: 'done', imported, seconds: (Date.now() - started) / 1000 });
        } catch (error) {
          if (!isAppError(error)) request.log.error({ err: error }, 'import failed');
          const failure = isAppError(error) ? error : new AppError('INTERNAL');
          emit({
            type: 'error',
            code: failure.code,
            message: failure.description,
            ...(error instanceof ImportRejected ? { problems: error.problems } : {}),
          });
        }
      };
      return reply
        .type('application/x-ndjson')
        .header('cache-control', 'no-store')
        .send(Readable.from(eventLines(run)) as unknown as string);
    },
  );
}
