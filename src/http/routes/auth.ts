/**
 * Human sign-in: `POST /v1/auth/sessions` (email, password, TOTP code) answers an opaque session token
 * once; `GET` and `DELETE /v1/auth/sessions/current` show and end the session presented.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../app.js';
import { requireSession } from '../../auth/session-guard.js';
import { signIn } from '../../auth/sign-in.js';
import { revokeSession } from '../../directory/sessions.js';
import { rateLimitKey } from '../../address-ranges.js';
import { RateLimiter } from '../../oauth/rate-limit.js';
import type { SignedInSession } from '../../store/sessions.js';
import { RpcStatusSchema } from '../schemas.js';

const Errors = { 400: RpcStatusSchema, 401: RpcStatusSchema, 403: RpcStatusSchema, 429: RpcStatusSchema };

const SessionView = Type.Object({
  session_id: Type.String(),
  account_id: Type.String(),
  kind: Type.String(),
  create_time: Type.String(),
  expire_time: Type.String(),
  user: Type.Object({ id: Type.String(), email: Type.String(), display_name: Type.String(), role: Type.String() }),
});

function sessionView(session: SignedInSession) {
  return {
    session_id: session.id,
    account_id: session.account_id,
    kind: session.kind,
    create_time: session.created_at.toISOString(),
    expire_time: session.expires_at!.toISOString(),
    user: { id: session.user_id, ...session.user },
  };
}

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
        response: { 201: Type.Intersect([Type.Object({ session_token: Type.String(), token_type: Type.Literal('Bearer'), expires_in: Type.Integer() }), SessionView]), ...Errors },
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
      return {
        session_token: token,
        token_type: 'Bearer' as const,
        expires_in: core.config.sessionTtl,
        ...sessionView({ ...session, user: { email: user.email, display_name: user.display_name, role: user.role } }),
      };
    },
  );

  r.get(
    '/v1/auth/sessions/current',
    { preHandler: requireSession(core), schema: { summary: 'The session presented, and its user', tags: ['auth'], response: { 200: SessionView, ...Errors } } },
    async (request) => sessionView(request.human!.session),
  );

  r.delete(
    '/v1/auth/sessions/current',
    { preHandler: requireSession(core), schema: { summary: 'Sign out: revokes the session presented', tags: ['auth'], response: { 204: Type.Null(), ...Errors } } },
    async (request, reply) => {
      const { session, ctx } = request.human!;
      await revokeSession(core.directory, ctx, session.account_id, session.id, 'sign_out');
      return reply.status(204).send(null);
    },
  );
}
