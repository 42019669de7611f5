/**
 * Credential resets by a signed-in OWNER or ADMIN: the user's new password and TOTP seed are in this
 * answer only, and the user's sessions are revoked.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../app.js';
import { credentialsView, resetCredentials } from '../../auth/credentials.js';
import { ADMIN_ROLES, requireSession } from '../../auth/session-guard.js';
import { IdSchema, RpcStatusSchema } from '../schemas.js';


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
          200: Type.Object({ user_id: Type.String(), email: Type.String(), password: Type.String(), totp_secret: Type.String(), totp_uri: Type.String() }),
          400: RpcStatusSchema,
          401: RpcStatusSchema,
          403: RpcStatusSchema,
          404: RpcStatusSchema,
        },
      },
    },
    async (request, reply) => {
      const { ctx, session } = request.human!;
      const { user, credentials } = await resetCredentials(core.directory, ctx, request.params.account, request.params.user, session?.user.role);
      reply.header('cache-control', 'no-store');
      return { user_id: user.id, email: user.email, ...credentialsView(user.email, credentials) };
    },
  );
}
