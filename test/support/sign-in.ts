/**
 * The fixture of the suites about people signing in: an account whose owner and named people hold
 * generated credentials (a password that must be changed first, and a TOTP seed), on a core with the
 * per-address sign-in limit off and its logs captured, behind an HTTP server.
 */
import type { FastifyInstance } from 'fastify';
import type { Core } from '../../src/core.js';
import { resetCredentials, type NewCredentials } from '../../src/directory/credentials.js';
import { createAccount } from '../../src/directory/accounts.js';
import { createUser } from '../../src/directory/users.js';
import { buildServer } from '../../src/http/server.js';
import type { UserRole } from '../../src/storage/schema.js';
import { createTestDatabase, openTestCore, type TestBackend } from './backends.js';
import { captureLogs, testCtx } from './fixtures.js';

export interface Person {
  id: string;
  email: string;
  creds: NewCredentials;
}

export interface SignInSuite {
  core: Core;
  server: FastifyInstance;
  accountId: string;
  /** `owner`, and each of the people asked for, by name (`<name>@test.example`). */
  people: Record<string, Person>;
  logLines: string[];
  close(): Promise<void>;
}

/** A database and a core with the per-address sign-in limits off and its logs captured, its people seeded. */
export async function openSignInCore(backend: TestBackend, named: Array<[string, UserRole]>, env = {}) {
  const database = await createTestDatabase(backend);
  const logs = captureLogs();
  const core = await openTestCore(
    database,
    {
      CORDON_SIGN_IN_RATE_PER_ADDRESS: '0',
      CORDON_SIGN_IN_RATE_PER_ADDRESS_EMAIL: '0',
      CORDON_UNAUTHENTICATED_RATE_PER_ADDRESS: '0',
      ...env,
    },
    logs.logger,
  );
  return { database, logs, core, ...(await seedPeople(core, named)) };
}

export async function openSignInSuite(backend: TestBackend, named: Array<[string, UserRole]>): Promise<SignInSuite> {
  const { database, logs, core, accountId, people } = await openSignInCore(backend, named);
  const server = await buildServer(core);
  return {
    core,
    server,
    accountId,
    people,
    logLines: logs.lines,
    async close() {
      await server.close();
      await core.close();
      await database.drop();
    },
  };
}

/** An account whose owner and named people (`<name>@test.example`) hold generated credentials. */
export async function seedPeople(
  core: Core,
  named: Array<[string, UserRole]>,
): Promise<{ accountId: string; people: Record<string, Person> }> {
  const created = await createAccount(core.directory, testCtx, {
    name: 'Test Co',
    owner: { email: 'owner@test.example', display_name: 'Owner' },
  });
  const accountId = created.account.id;
  const people: Record<string, Person> = {
    owner: { id: created.owner.id, email: created.owner.email, creds: created.ownerCredentials },
  };
  for (const [name, role] of named) {
    const user = await createUser(core.directory, testCtx, accountId, {
      email: `${name}@test.example`,
      display_name: name,
      role,
    });
    people[name] = {
      id: user.id,
      email: user.email,
      creds: (await resetCredentials(core.directory, testCtx, accountId, user.id)).credentials,
    };
  }
  return { accountId, people };
}
