import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { Type } from 'typebox';
import type { Core } from '../../core.js';
import { unavailable } from '../../errors.js';
import { RpcStatusSchema } from '../schemas.js';

const Status = Type.Object({ status: Type.Literal('ok') });

export function healthRoutes(app: FastifyInstance, core: Core): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/healthz',
    { schema: { summary: 'Liveness: the process serves HTTP', tags: ['ops'], response: { 200: Status } } },
    async () => ({
      status: 'ok' as const,
    }),
  );

  r.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: the database answers',
        tags: ['ops'],
        response: { 200: Type.Object({ status: Type.Literal('ok'), database: Type.String() }), 503: RpcStatusSchema },
      },
    },
    async () => {
      try {
        await sql`SELECT 1`.execute(core.database.db);
      } catch (error) {
        throw unavailable('the database does not answer', error);
      }
      return { status: 'ok' as const, database: core.database.backend };
    },
  );
}
