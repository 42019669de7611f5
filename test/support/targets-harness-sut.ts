/**
 * The Cordon under test (see targets-harness.ts): seeded in process, then run as `cordon serve`
 * processes that a test SIGKILLs and restarts; its API as a small client.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createUser } from '../../src/directory/users.js';
import { createApp } from '../../src/oauth/apps.js';
import { applyPlaybooks } from '../../src/response/playbooks.js';
import { mintSessionToken } from './fixtures.js';
import {
  createPgDatabase,
  harnessCtx,
  startNode,
  seedFresh,
  type PgDatabase,
  type ProcessNode,
} from './targets-harness.js';
import { createAccount } from '../../src/directory/accounts.js';
import { importUsers } from '../../src/directory/import.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a JSON answer, held to the tests' exact assertions
export type Json = any;

export interface Reply<T = Json> {
  status: number;
  body: T;
}

/** One JSON request; a network failure (a node being killed) is status 0. */
export async function call<T = Json>(
  base: string,
  method: string,
  pathname: string,
  token?: string,
  body?: unknown,
): Promise<Reply<T>> {
  try {
    const res = await fetch(`${base}${pathname}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as T) : (undefined as T) };
  } catch (error) {
    return { status: 0, body: { error: (error as Error).message } as T };
  }
}

/** Polls `check` until it returns a value other than undefined/false, or throws after `ms` with `what`. */
export async function waitFor<T>(
  what: string | (() => string),
  ms: number,
  check: () => Promise<T | undefined | false>,
  every = 200,
) {
  const until = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > until)
      throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}

export interface SutOptions {
  /** Local members (imported), the same people the targets hold. */
  emails: string[];
  /** Applied at the seed: playbooks naming targets go through applyPlaybooks once the targets exist. */
  playbooks: Array<Record<string, unknown>>;
  /** Settings of every node (worker intervals, breaker…). */
  env?: Record<string, string>;
}

export interface Sut {
  database: PgDatabase;
  accountId: string;
  adminId: string;
  /** An ADMIN's session token (targets, restores, approvals, explain). */
  adminToken: string;
  /** A second ADMIN (the two-person rule of approvals). */
  secondAdminToken: string;
  signalApp: { clientId: string; clientSecret: string };
  /** Local user id per email. */
  userIds: Map<string, string>;
  /** The running nodes (a killed one is removed). */
  nodes: ProcessNode[];
  /** The env that runs the CLI in process against this database, with no saved session in the way. */
  cliEnv: Record<string, string>;
  startNode(env?: Record<string, string>): Promise<ProcessNode>;
  /** SIGKILLs a node and forgets it. */
  kill(node: ProcessNode): Promise<void>;
  /** The account's API on a node (default the first running one), as the ADMIN. */
  api<T = Json>(method: string, pathname: string, body?: unknown, node?: ProcessNode): Promise<Reply<T>>;
  /** A signal from the signals:write app, about `email` (to `node`, default the first running one). */
  signal(email: string, type: string, externalId?: string, node?: ProcessNode): Promise<Reply>;
  /** Applies playbooks through the route (one naming targets needs them registered first). */
  applyPlaybooks(playbooks: Array<Record<string, unknown>>): Promise<void>;
  /** Registers a target through the route; returns its view. */
  addTarget(spec: Record<string, unknown>): Promise<{ id: string; name: string }>;
  close(): Promise<void>;
}

export async function startSut(options: SutOptions): Promise<Sut> {
  const database = await createPgDatabase('cordon_sut');
  const seeded = await seedFresh(database, async (core) => {
    const { account } = await createAccount(core.directory, harnessCtx, {
      name: 'Acme',
      owner: { email: 'boss@acme.example', display_name: 'Boss' },
    });
    const admins = [];
    for (const name of ['admin', 'admin2'])
      admins.push(
        await createUser(core.directory, harnessCtx, account.id, {
          email: `${name}@acme.example`,
          display_name: name,
          role: 'ADMIN',
        }),
      );
    const rows = options.emails.map((email, i) => ({ line: i + 1, user: { email, display_name: email } }));
    await importUsers(core.directory, harnessCtx, account.id, { rows, problems: [] });
    if (options.playbooks.length > 0) await applyPlaybooks(core.response, harnessCtx, account.id, options.playbooks);
    const app = await createApp(core.directory, harnessCtx, account.id, {
      name: 'siem',
      permissions: ['signals:write'],
    });
    const users = await core.database.db
      .selectFrom('users')
      .select(['id', 'email'])
      .where('account_id', '=', account.id)
      .execute();
    return {
      accountId: account.id,
      adminId: admins[0]!.id,
      adminToken: await mintSessionToken(core, admins[0]!),
      secondAdminToken: await mintSessionToken(core, admins[1]!),
      signalApp: { clientId: app.app.client_id, clientSecret: app.clientSecret! },
      userIds: new Map(users.map((u) => [u.email, u.id])),
    };
  });
  const nodes: ProcessNode[] = [];
  let signalToken: string | undefined;
  const cliDir = mkdtempSync(path.join(tmpdir(), 'cordon-cli-'));
  const first = () => {
    if (!nodes[0]) throw new Error('no Cordon node is running');
    return nodes[0];
  };
  const account = `/v1/accounts/${seeded.accountId}`;
  const sut: Sut = {
    database,
    ...seeded,
    nodes,
    cliEnv: { ...database.env, CORDON_DEMO: 'false', CORDON_CLI_SESSION_FILE: path.join(cliDir, 'none.json') },
    async startNode(env = {}) {
      const node = await startNode(database, { ...options.env, ...env });
      nodes.push(node);
      return node;
    },
    async kill(node) {
      nodes.splice(nodes.indexOf(node), 1);
      await node.kill();
    },
    api: (method, pathname, body, node) =>
      call((node ?? first()).url, method, `${account}${pathname}`, seeded.adminToken, body),
    async signal(email, type, externalId = `alert-${Math.random().toString(36).slice(2)}`, node) {
      const send = () =>
        call((node ?? first()).url, 'POST', `${account}/signals`, signalToken, {
          external_id: externalId,
          type,
          title: 'test alert',
          severity: 'high',
          confidence: 0.9,
          subject: { email },
        });
      if (signalToken) {
        const reply = await send();
        if (reply.status !== 401) return reply;
      }
      const { clientId, clientSecret } = seeded.signalApp;
      const res = await fetch(`${(node ?? first()).url}/v1/oauth/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      });
      signalToken = ((await res.json()) as { access_token: string }).access_token;
      return send();
    },
    async applyPlaybooks(playbooks) {
      const reply = await sut.api('POST', '/playbooks:apply', { playbooks });
      if (reply.status !== 200) throw new Error(`apply playbooks: ${reply.status} ${JSON.stringify(reply.body)}`);
    },
    async addTarget(spec) {
      const reply = await sut.api('POST', '/targets', spec);
      if (reply.status !== 201)
        throw new Error(`add target ${String(spec.name)}: ${reply.status} ${JSON.stringify(reply.body)}`);
      return reply.body as { id: string; name: string };
    },
    async close() {
      for (const node of [...nodes]) await node.stop();
      nodes.length = 0;
      await database.drop();
    },
  };
  return sut;
}
