/**
 * Containments for the console's tests, made as in production: an `auto` playbook, a detector app
 * holding signals:write, and a signal about the subject posted over HTTP to the console suite's server.
 * Optionally a `gtr` target (a local endpoint that answers 204) so that a record has a remote step.
 */
import { createServer, type Server } from 'node:http';
import { createApp } from '../../src/oauth/apps.js';
import { createGroup, addMember } from '../../src/directory/groups.js';
import { createUser } from '../../src/directory/users.js';
import { applyPlaybooks } from '../../src/response/playbooks.js';
import { createTarget } from '../../src/targets/registry.js';
import type { UserRole } from '../../src/storage/schema.js';
import type { TestBackend } from './backends.js';
import { openConsoleSuite, type ConsoleClient, type ConsoleSuite } from './console.js';
import { appAccessToken, testCtx } from './fixtures.js';

/** What a suite's server needs for containments: no breaker in the way, no token rate. */
export const CONTAINING_ENV = { CORDON_BREAKER_MAX_ACTIONS: '10000', CORDON_OAUTH_RATE_PER_CLIENT: '0' };

export interface Containing {
  /** A new MEMBER in `groups` (names, made once). */
  person(name: string, groups?: string[]): Promise<{ id: string; email: string }>;
  /** A signal about `email` that an auto playbook contains (`again.*`: the second one); the plan's answer. */
  signal(
    email: string,
    type?: string,
  ): Promise<{ plan: { id: string; status: string; containment_id: string }; signal: { id: string } }>;
  groupIds: Map<string, string>;
  close(): Promise<void>;
}

export async function prepareContaining(suite: ConsoleSuite, options: { gtr?: boolean } = {}): Promise<Containing> {
  const { core, accountId } = suite;
  await applyPlaybooks(core.response, testCtx, accountId, [
    { name: 'auto-contain', priority: 10, match: { types: ['auto.*'] }, action: 'suspend', mode: 'auto' },
    // A second playbook: the dedup guard holds back a second plan of one playbook for one subject a while.
    { name: 'second-look', priority: 10, match: { types: ['again.*'] }, action: 'suspend', mode: 'auto' },
  ]);
  const detector = await createApp(core.directory, testCtx, accountId, {
    name: 'siem',
    permissions: ['signals:write'],
  });
  const token = await appAccessToken(suite.server, detector.app.client_id, detector.clientSecret!);
  let gtr: Server | undefined;
  if (options.gtr) {
    gtr = createServer((request, response) => {
      request.resume();
      request.on('end', () => response.writeHead(204).end());
    });
    await new Promise<void>((resolve) => gtr!.listen(0, '127.0.0.1', resolve));
    const port = (gtr.address() as { port: number }).port;
    await createTarget(core.targets, testCtx, accountId, {
      name: 'idp-sessions',
      kind: 'gtr',
      config: { endpoint: `http://127.0.0.1:${port}/gtr`, auth: 'bearer' },
      credentials: { token: 'gtr-test-token' },
    });
  }
  const groupIds = new Map<string, string>();
  let n = 0;
  return {
    groupIds,
    async person(name, groups = []) {
      const user = await createUser(core.directory, testCtx, accountId, {
        email: `${name}@test.example`,
        display_name: `${name} Person`,
        role: 'MEMBER',
      });
      for (const group of groups) {
        if (!groupIds.has(group))
          groupIds.set(group, (await createGroup(core.directory, testCtx, accountId, group)).id);
        await addMember(core.directory, testCtx, accountId, groupIds.get(group)!, user.id);
      }
      return { id: user.id, email: user.email };
    },
    async signal(email, type = 'auto.impossible-travel') {
      const response = await fetch(`${suite.url}/v1/accounts/${accountId}/signals`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          external_id: `alert-${++n}`,
          type,
          title: `Impossible travel for ${email}`,
          severity: 'high',
          confidence: 0.9,
          subject: { email },
        }),
      });
      if (response.status !== 200) throw new Error(`signal: ${response.status} ${await response.text()}`);
      return (await response.json()) as Awaited<ReturnType<Containing['signal']>>;
    },
    async close() {
      if (gtr) await new Promise((resolve) => gtr.close(resolve));
    },
  };
}

export interface ContainingSuite {
  suite: ConsoleSuite;
  containing: Containing;
  /** alice (ADMIN), signed in; mia is a MEMBER. */
  alice: ConsoleClient;
  close(): Promise<void>;
}

/** A console suite of alice (ADMIN) and mia (MEMBER) made ready for containments, with alice signed in. */
export async function openContainingSuite(
  backend: TestBackend,
  options: { gtr?: boolean } = {},
): Promise<ContainingSuite> {
  const people: Array<[string, UserRole]> = [
    ['alice', 'ADMIN'],
    ['mia', 'MEMBER'],
  ];
  const suite = await openConsoleSuite(backend, people, CONTAINING_ENV);
  let containing: Containing | undefined;
  const close = async () => {
    await containing?.close();
    await suite.close();
  };
  try {
    containing = await prepareContaining(suite, options);
    return { suite, containing, alice: await suite.signIn('alice'), close };
  } catch (error) {
    await close();
    throw error;
  }
}
