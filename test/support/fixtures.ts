import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Core } from '../../src/core.js';
import type { CallContext } from '../../src/audit/entry.js';
import { createAccount } from '../../src/directory/accounts.js';
import { createUser } from '../../src/directory/users.js';
import { createLogger } from '../../src/logger.js';
import type { AuditRecord, SessionKind, User } from '../../src/storage/schema.js';
import { listAuditEntries } from '../../src/store/audit.js';
import { hashSessionToken } from '../../src/auth/sign-in.js';
import { makeSecret } from '../../src/secret-format.js';
import { newId } from '../../src/ids.js';
import { insertSession } from '../../src/store/sessions.js';
import { findUserById, setChosenPassword } from '../../src/store/users.js';
import { hashSecret } from '../../src/directory/passwords.js';

export const testCtx: CallContext = { actor: { type: 'operator', id: 'tester@test' }, authz: { method: 'test' } };

/** A google.rpc.Status body as Cordon's routes answer it. */
export const rpc = (code: number, message: string, reason: string, metadata?: Record<string, string>) => ({
  code,
  message,
  details: [
    {
      '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      reason,
      domain: 'cordon',
      ...(metadata ? { metadata } : {}),
    },
  ],
});

export interface SeededAccount {
  accountId: string;
  owner: User;
  admin: User;
  members: User[];
  eam: User;
}

/**
 * An account in use: one owner (who has replaced the generated password), one admin, `members` members
 * and one externally managed member.
 */
export async function seedAccount(core: Core, members = 3): Promise<SeededAccount> {
  const { account, owner } = await createAccount(core.directory, testCtx, {
    name: 'Test Co',
    owner: { email: 'owner@test.example', display_name: 'Owner' },
  });
  await choosePassword(core, owner);
  const admin = await createUser(core.directory, testCtx, account.id, {
    email: 'admin@test.example',
    display_name: 'Admin',
    role: 'ADMIN',
  });
  const list: User[] = [];
  for (let i = 0; i < members; i++) {
    list.push(
      await createUser(core.directory, testCtx, account.id, {
        email: `m${i}@test.example`,
        display_name: `Member ${i}`,
        groups: ['Staff'],
      }),
    );
  }
  const eam = await createUser(core.directory, testCtx, account.id, {
    email: 'eam@test.example',
    display_name: 'Managed Elsewhere',
    role: 'ADMIN',
    externally_managed: true,
  });
  return { accountId: account.id, owner, admin, members: list, eam };
}

/**
 * Replaces a user's generated password with `password`, as each person must at the first sign-in (the
 * route, POST /v1/auth/password, is tested in password-change.test.ts): what the people of an account in
 * use have done. Returns the password.
 */
export async function choosePassword(
  core: Core,
  user: Pick<User, 'account_id' | 'id'>,
  password = `chosen by ${user.id}`,
): Promise<string> {
  const row = await findUserById(core.database.db, user.account_id, user.id);
  if (!row?.password_hash) throw new Error(`${user.id} has no password to replace`);
  await setChosenPassword(core.database.db, user.account_id, user.id, row.password_hash, await hashSecret(password));
  return password;
}

/** A logger at `info` whose JSON lines the test can read. */
export function captureLogs(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger('info', sink), lines };
}

/**
 * A live sign-in session token for a user, as POST /v1/auth/sessions would give one (without the
 * password and TOTP round, which auth.test.ts covers). `token` lets a test mint one of an older format.
 */
export async function mintSessionToken(
  core: Core,
  user: Pick<User, 'account_id' | 'id'>,
  kind: SessionKind = 'cli',
  token: string = makeSecret('sess'),
): Promise<string> {
  await insertSession(core.database.db, {
    account_id: user.account_id,
    id: newId(),
    user_id: user.id,
    kind,
    token_hash: hashSessionToken(token),
    expires_at: new Date(Date.now() + 3_600_000),
  });
  return token;
}

/** Every audit entry of an account so far (inbox and numbered alike), oldest first, once the group commit settled. */
export async function auditTrail(core: Core, accountId: string): Promise<AuditRecord[]> {
  await core.audit.settle();
  return listAuditEntries(core.database.db, { accountId, includeUnsequenced: true });
}

/** An access token for an app by client_credentials with client_secret_basic, from a server under test. */
export async function appAccessToken(
  server: FastifyInstance,
  clientId: string,
  secret: string,
  path = '/v1/oauth/token',
): Promise<string> {
  const res = await server.inject({
    method: 'POST',
    url: path,
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    payload: 'grant_type=client_credentials',
  });
  if (res.statusCode !== 200) throw new Error(`token: ${res.statusCode} ${res.body}`);
  return res.json<{ access_token: string }>().access_token;
}
