/**
 * Human sign-in: `POST /v1/auth/sessions` (email, password, TOTP code) answers an opaque session token
 * once; `GET` and `DELETE /v1/auth/sessions/current` show and end the session presented;
 * `POST /v1/auth/password` replaces the password, which a session must do first when it was generated.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core.js';
import { changePassword, PASSWORD_MAX_LENGTH } from '../../auth/password-change.js';
import { personOf, requireSession } from '../guards/session.js';
import { signIn } from '../../auth/sign-in.js';
import { revokeSession } from '../../directory/sessions.js';
import { rateLimitKey } from '../../address-ranges.js';
import { RateLimiter } from '../../oauth/rate-limit.js';
import { RpcStatusSchema } from '../schemas.js';
import { SignedInSessionSchema, signedInSessionView, SignInSchema, signInView } from '../views/auth.js';

const Errors = { 400: RpcStatusSchema, 401: RpcStatusSchema, 403: RpcStatusSchema, 429: RpcStatusSchema };

export function authRoutes(app: FastifyInstance, core: Core): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const perAddress = new RateLimiter(core.config.signInRatePerAddress);
  // Besides the per-address limit: many people can share one address (an office's NAT), and one of
  // them guessing at one email must not use up the attempts of all the others.
  const perAddressEmail = new RateLimiter(core.config.signInRatePerAddressEmail);

  r.post(
    '/v1/auth/sessions',
    {
      config: { ownRateLimits: true },
      schema: {
        summary: 'Sign in with email, password and TOTP code; the session token is shown this once',
        tags: ['auth'],
        body: Type.Object(
          {
            account_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            email: Type.String({ minLength: 1, maxLength: 320 }),
            password: Type.String({ minLength: 1, maxLength: 1024 }),
            totp: Type.String({ minLength: 1, maxLength: 16 }),
            kind: Type.Optional(Type.Union([Type.Literal('web'), Type.Literal('cli')])),
          },
          { additionalProperties: false },
        ),
        response: { 201: SignInSchema, ...Errors },
      },
    },
    async (request, reply) => {
      const address = rateLimitKey(request.clientAddress);
      perAddress.take(address);
      perAddressEmail.take(`${address} ${request.body.email.trim().toLowerCase()}`);
      const { token, session, user } = await signIn(core.directory, core.config.sessionTtl, {
        accountId: request.body.account_id,
        email: request.body.email,
        password: request.body.password,
        totp: request.body.totp,
        kind: request.body.kind ?? 'web',
        sourceAddress: request.clientAddress,
        userAgent: request.headers['user-agent']?.slice(0, 256),
      });
      reply.header('cache-control', 'no-store').status(201);
      return signInView(token, core.config.sessionTtl, {
        ...session,
        user: {
          email: user.email,
          display_name: user.display_name,
          role: user.role,
          password_change_required: user.password_change_required,
        },
      });
    },
  );

  // Whoami and sign-out serve a session that must still change its password, as does the change itself.
  const anySession = requireSession(core, undefined, { beforePasswordChange: true, operator: false });

  r.get(
    '/v1/auth/sessions/current',
    {
      preHandler: anySession,
      schema: {
        summary: 'The session presented, and its user',
        tags: ['auth'],
        response: { 200: SignedInSessionSchema, ...Errors },
      },
    },
    async (request) => signedInSessionView(personOf(request).session),
  );

  r.delete(
    '/v1/auth/sessions/current',
    {
      preHandler: anySession,
      schema: {
        summary: 'Sign out: revokes the session presented',
        tags: ['auth'],
        response: { 204: Type.Null(), ...Errors },
      },
    },
    async (request, reply) => {
      const { session, ctx } = personOf(request);
      await revokeSession(core.directory, ctx, session.account_id, session.id, 'sign_out');
      return reply.status(204).send(null);
    },
  );

  r.post(
    '/v1/auth/password',
    {
      preHandler: anySession,
      schema: {
        summary:
          "Change the signed-in user's password (required first when it was generated); revokes the user's other " +
          'sessions',
        tags: ['auth'],
        body: Type.Object(
          {
            current_password: Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH }),
            // The policy (length, NUL, differing from the current one) is checked by the service, which says which rule
            // failed.
            new_password: Type.String({ minLength: 1, maxLength: 4 * PASSWORD_MAX_LENGTH }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ password_change_required: Type.Literal(false), sessions_revoked: Type.Integer() }),
          ...Errors,
        },
      },
    },
    async (request, reply) => {
      perAddress.take(request.ip);
      const { session, ctx } = personOf(request);
      const changed = await changePassword(
        core.directory,
        ctx,
        session,
        request.body.current_password,
        request.body.new_password,
      );
      reply.header('cache-control', 'no-store');
      return { password_change_required: false as const, sessions_revoked: changed.sessionsRevoked.length };
    },
  );
}
