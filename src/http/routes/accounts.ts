/**
 * Accounts: which there are, one of them, and making one with its first owner (`cordon init`). Listing
 * and creating are for the local operator only (http/operator.ts): no served instance admits it, so
 * nobody over the network can enumerate accounts or make one. Reading an account is also for its people.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core.js';
import { AccountSchema, accountView } from '../views/accounts.js';
import { credentialsView } from '../views/auth.js';
import { requireSession } from '../guards/session.js';
import { createAccount } from '../../directory/accounts.js';
import { AppError } from '../../errors.js';
import { findAccountById, listAccounts } from '../../store/accounts.js';
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
const tags = ['accounts'];

export function accountsRoutes(app: FastifyInstance, core: Core): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/v1/accounts',
    {
      preHandler: requireOperator,
      schema: {
        summary: 'Every account (the local operator only)',
        tags,
        response: { 200: Type.Object({ accounts: Type.Array(AccountSchema) }), ...Errors },
      },
    },
    async () => ({
      accounts: (await listAccounts(core.database.db)).map(accountView),
    }),
  );

  r.post(
    '/v1/accounts',
    {
      preHandler: requireOperator,
      schema: {
        summary:
          "Create an account and its first owner (the local operator only); the owner's generated password and TOTP " +
          'seed are in this answer only',
        tags,
        body: Type.Object(
          {
            name: Type.String({ maxLength: 1000 }),
            owner: Type.Object(
              { email: Type.String({ maxLength: 1000 }), display_name: Type.String({ maxLength: 1000 }) },
              { additionalProperties: false },
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            account: AccountSchema,
            owner: Type.Object({
              user_id: Type.String(),
              email: Type.String(),
              password: Type.String(),
              totp_secret: Type.String(),
              totp_uri: Type.String(),
            }),
          }),
          ...Errors,
        },
      },
    },
    async (request, reply) => {
      const created = await createAccount(core.directory, callerContext(request), request.body);
      reply.header('cache-control', 'no-store');
      return {
        account: accountView(created.account),
        owner: {
          user_id: created.owner.id,
          email: created.owner.email,
          ...credentialsView(created.owner.email, created.ownerCredentials),
        },
      };
    },
  );

  r.get(
    '/v1/accounts/:account',
    {
      preHandler: requireSession(core),
      // Any text: an id that names no account is a 404, as everywhere under /v1/accounts/{account}.
      schema: {
        summary: 'One account',
        tags,
        params: Type.Object({ account: Type.String({ maxLength: 100 }) }),
        response: { 200: AccountSchema, ...Errors },
      },
    },
    async (request) => {
      const account = await findAccountById(core.database.db, request.params.account);
      if (!account) throw new AppError('ACCOUNT_NOT_FOUND', { metadata: { account_id: request.params.account } });
      return accountView(account);
    },
  );
}
