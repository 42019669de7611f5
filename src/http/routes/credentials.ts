/**
 * Credential resets by a signed-in OWNER or ADMIN: the user's new password and TOTP seed are in this
 * answer only, and the user's sessions are revoked.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core.js';
import { resetCredentials } from '../../directory/credentials.js';
import { ADMIN_ROLES, requireSession } from '../guards/session.js';
import { IdSchema, RpcStatusSchema } from '../schemas.js';
import { ResetCredentialsSchema, resetCredentialsView } from '../views/auth.js';

export function credentialsRoutes(app: FastifyInstance, core: Core): void {
  app.withTypeProvider<TypeBoxTypeProvider>().post(
    '/v1/accounts/:account/users/:user(^[^:]+)::resetCredentials',
    {
      preHandler: requireSession(core, ADMIN_ROLES),
      schema: {
        summary: "Give a user a new password and TOTP seed (shown this once) and end the user's sessions",
        tags: ['auth'],
        params: Type.Object({ account: IdSchema, user: IdSchema }),
        response: {
          200: ResetCredentialsSchema,
          400: RpcStatusSchema,
          401: RpcStatusSchema,
          403: RpcStatusSchema,
          404: RpcStatusSchema,
        },
      },
    },
    async (request, reply) => {
      const { ctx, session } = request.human!;
      const { user, credentials } = await resetCredentials(
        core.directory,
        ctx,
        request.params.account,
        request.params.user,
        session?.user.role,
      );
      reply.header('cache-control', 'no-store');
      return resetCredentialsView(user, credentials);
    },
  );
}
