/**
 * The console over real HTTP, as a browser without JavaScript would use it: a listening server with the
 * console mounted (as `cordon serve` mounts it), an account whose people have chosen their passwords, and
 * a client per person that keeps cookies, signs in through the form with a TOTP code, reads each page's
 * CSRF token and posts forms with it. The browser tests (test/browser/) drive the same server with
 * Chromium.
 */
import type { FastifyInstance } from 'fastify';
import { ConsoleClient } from './console-client.js';
import { consoleRoutes } from '../../src/console/routes.js';
import type { Core } from '../../src/core.js';
import { base32Decode } from '../../src/base32.js';
import { timeStep, totpCode } from '../../src/directory/totp.js';
import { buildServer } from '../../src/http/server.js';
import type { UserRole } from '../../src/storage/schema.js';
import type { TestBackend } from './backends.js';
import { choosePassword, mintSessionToken } from './fixtures.js';
import { findUserById } from '../../src/store/users.js';
import { planMaker, type PlanMaker } from './pending-plans.js';
import { openSignInCore, type Person } from './sign-in.js';

export { ConsoleClient };

export interface ConsoleSuite {
  core: Core;
  server: FastifyInstance;
  url: string;
  accountId: string;
  people: Record<string, Person & { password: string }>;
  logLines: string[];
  /** A cookie-keeping client, not signed in. */
  client(): ConsoleClient;
  /**
   * A client signed in as `name`: a `web` session made directly (as the form makes one; the form itself is
   * console-session.test.ts's), so that tests do not spend the person's TOTP steps.
   */
  signIn(name: string): Promise<ConsoleClient>;
  /** A client signed in as `name` through the console's form, with a fresh TOTP code. */
  signInWithForm(name: string): Promise<ConsoleClient>;
  /** A TOTP code of `name` that is still unspent (waits for the next step when the window is used up). */
  totp(name: string): Promise<string>;
  close(): Promise<void>;
}

/** A page's text with the whitespace between and inside tags squeezed, as a reader sees it. */
export const squash = (text: string): string => text.replace(/>\s+/g, '>').replace(/\s+</g, '<').replace(/\s+/g, ' ');

/** The TOTP code of a seed, `offset` steps from now (a step is spent once: sign-in and step-up use different ones). */
export const totpAt = (seed: string, offset = 0): string =>
  totpCode(base32Decode(seed), timeStep(Date.now() / 1000) + offset);

/**
 * A code the person has not spent yet: the current step's, else the next one's (the server takes the step
 * on either side of its own), waiting when both are spent. Never the previous step's: it expires at the next
 * step boundary, which a loaded machine can cross between here and the server's check.
 */
async function freshTotp(core: Core, accountId: string, person: Person): Promise<string> {
  for (;;) {
    const user = await findUserById(core.database.db, accountId, person.id);
    const now = timeStep(Date.now() / 1000);
    const step = Math.max(now, (user?.totp_last_step ?? 0) + 1);
    if (step <= now + 1) return totpCode(base32Decode(person.creds.totpSecret), step);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

export async function openConsoleSuite(
  backend: TestBackend,
  named: Array<[string, UserRole]>,
  env: Record<string, string> = {},
): Promise<ConsoleSuite> {
  const { database, logs, core, ...seeded } = await openSignInCore(backend, named, env);
  const people: ConsoleSuite['people'] = {};
  for (const [name, person] of Object.entries(seeded.people)) {
    const password = await choosePassword(core, { account_id: seeded.accountId, id: person.id });
    people[name] = { ...person, password };
  }
  const server = await buildServer(core, { register: (app) => consoleRoutes(app, core) });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(server.server.address() as { port: number }).port}`;
  return {
    core,
    server,
    url,
    accountId: seeded.accountId,
    people,
    logLines: logs.lines,
    client: () => new ConsoleClient(url),
    async signIn(name) {
      const client = new ConsoleClient(url);
      const person = people[name]!;
      const token = await mintSessionToken(core, { account_id: seeded.accountId, id: person.id }, 'console');
      client.cookies.set('__Host-cordon', token);
      await client.page('/console/password');
      return client;
    },
    async signInWithForm(name) {
      const person = people[name]!;
      const client = new ConsoleClient(url);
      await client.page('/console/sign-in');
      const signedIn = await client.post('/console/sign-in', {
        email: person.email,
        password: person.password,
        totp: await freshTotp(core, seeded.accountId, person),
      });
      if (signedIn.status !== 303)
        throw new Error(
          `sign-in of ${name} failed: ${signedIn.status} ${/role="alert">([^<]*)/.exec(signedIn.body)?.[1]}`,
        );
      await client.page('/console/password');
      return client;
    },
    totp: (name) => freshTotp(core, seeded.accountId, people[name]!),
    async close() {
      await server.close();
      await core.close();
      await database.drop();
    },
  };
}

/** A console suite whose account makes plans waiting for approval (`planMaker`), with alice (of `named`) signed in. */
export async function openPlanSuite(
  backend: TestBackend,
  named: Array<[string, UserRole]>,
): Promise<{ suite: ConsoleSuite; plans: PlanMaker; alice: ConsoleClient }> {
  const suite = await openConsoleSuite(backend, named);
  try {
    return { suite, plans: await planMaker(suite.core, suite.accountId), alice: await suite.signIn('alice') };
  } catch (error) {
    await suite.close();
    throw error;
  }
}
