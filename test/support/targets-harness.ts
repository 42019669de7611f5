/**
 * What the targets acceptance tests and bench stand on, all real processes over real HTTP:
 * - a fresh PostgreSQL database per role (cloned from the checkout's migrated template when it exists);
 * - a PEER: a second `cordon serve` on its own database, the 1Password-compatible target, with an
 *   account, its users and an OAuth app holding the four Users API permissions; its own database is the
 *   judge (the users' real states, its audit log);
 * - (targets-harness-sut.ts) the SCIM target, from a server factory (the SCIMMY server of
 *   scim-server.ts), behind the same kind of handle;
 * - fault proxies in front of each (fault-proxy.ts);
 * - (targets-harness-sut.ts) the Cordon under test as `cordon serve` processes on one database:
 *   seeded in process first (then closed, so that no in-process worker competes), started, SIGKILLed
 *   and restarted; two of them make the multi-node case.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { createCore } from '../../src/app.js';
import type { CallContext } from '../../src/audit/entry.js';
import type { Core } from '../../src/core.js';
import { loadConfig } from '../../src/config.js';
import { createAccount } from '../../src/directory/accounts.js';
import { importUsers } from '../../src/directory/import.js';
import { createLogger } from '../../src/logger.js';
import { createApp } from '../../src/oauth/apps.js';
import type { AuditRecord, Database } from '../../src/storage/schema.js';
import { listAuditEntries } from '../../src/store/audit.js';
import { startServer } from './cli.js';
import { PG_SERVER_URL, PG_TEMPLATE } from './env.js';

export const harnessCtx: CallContext = { actor: { type: 'operator', id: 'harness@test' }, authz: { method: 'test' } };
const KEK = Buffer.alloc(32, 7).toString('base64url');
/** The permissions a 1Password Users API app holds (issue 16, §7). */
export const USERS_API_PERMISSIONS = ['users:list', 'users:read', 'users:suspend', 'users:reactivate'];

export interface PgDatabase {
  name: string;
  /** What points a core or a `cordon serve` at it. */
  env: Record<string, string>;
  /** A Kysely on it, for the judge's reads (opened on first use). */
  db(): Kysely<Database>;
  drop(): Promise<void>;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: `${PG_SERVER_URL}/postgres` });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh database: a clone of the migrated template when the test run made one, else empty (migrated on open). */
export async function createPgDatabase(prefix = 'cordon_h'): Promise<PgDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await admin(async (client) => {
    const template = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [PG_TEMPLATE]);
    await client.query(`CREATE DATABASE ${name}${template.rowCount ? ` TEMPLATE ${PG_TEMPLATE}` : ''}`);
  });
  let kysely: Kysely<Database> | undefined;
  const url = `${PG_SERVER_URL}/${name}`;
  return {
    name,
    env: { DATABASE_URL: url, CORDON_KEY_ENCRYPTION_KEY: KEK, CORDON_ISSUER: 'http://127.0.0.1:8080' },
    db: () =>
      (kysely ??= new Kysely<Database>({
        dialect: new PostgresDialect({
          pool: new pg.Pool({
            connectionString: url,
            max: 2,
            // int8 (audit indexes, counts) as numbers, as the app's own pool reads them.
            types: {
              getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
                oid === 20
                  ? (value: string) => Number(value)
                  : (pg.types.getTypeParser(oid, format) as (
                      value: string,
                    ) => unknown)) as typeof pg.types.getTypeParser,
            },
          }),
        }),
      })),
    drop: async () => {
      await kysely?.destroy();
      await admin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** Settings every process of the harness shares: no demo, no rate limit in the way, a fast sequencer. */
export const QUIET_ENV: Record<string, string> = {
  CORDON_DEMO: 'false',
  CORDON_OAUTH_RATE_PER_CLIENT: '0',
  CORDON_OAUTH_RATE_PER_ADDRESS: '0',
  CORDON_SIGN_IN_RATE_PER_ADDRESS: '0',
  CORDON_UNAUTHENTICATED_RATE_PER_ADDRESS: '0',
  CORDON_SEQUENCER_INTERVAL_MS: '20',
  CORDON_LOG_LEVEL: 'warn',
};

/** Opens a core on a database in this process, runs `fn`, settles the audit log and closes it. */
export async function withCore<T>(database: PgDatabase, fn: (core: Core) => Promise<T>): Promise<T> {
  const { config } = loadConfig({ ...QUIET_ENV, ...database.env });
  const core = await createCore(config, { holder: 'harness', logger: createLogger('silent') });
  try {
    const out = await fn(core);
    await core.audit.sequencer.drain();
    return out;
  } finally {
    await core.close();
  }
}

/** withCore on a database made for the purpose: dropped when the seeding fails (nothing left behind). */
export async function seedFresh<T>(database: PgDatabase, fn: (core: Core) => Promise<T>): Promise<T> {
  try {
    return await withCore(database, fn);
  } catch (error) {
    await database.drop();
    throw error;
  }
}

/** `n` users `{prefix}{i}@{domain}`: the people both sides know. */
export const peopleEmails = (n: number, prefix = 'u', domain = 'corp.example') =>
  Array.from({ length: n }, (_, i) => `${prefix}${i}@${domain}`);

async function importPeople(core: Core, accountId: string, emails: string[]): Promise<void> {
  const rows = emails.map((email, i) => ({ line: i + 1, user: { email, display_name: email.split('@')[0]! } }));
  await importUsers(core.directory, harnessCtx, accountId, { rows, problems: [] });
}

export interface ProcessNode {
  child: ChildProcess;
  url: string;
  /** SIGKILL: no shutdown, no drain; resolves once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
}

/** Starts `cordon serve` on a database with the given settings (a free port, a free metrics port). */
export async function startNode(database: PgDatabase, env: Record<string, string> = {}): Promise<ProcessNode> {
  const { child, url } = await startServer({ ...QUIET_ENV, ...database.env, ...env });
  const ended = (signal: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.removeAllListeners('exit');
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  return { child, url, kill: () => ended('SIGKILL'), stop: () => ended('SIGTERM') };
}

// ---------------------------------------------------------------------------------------------------
// The 1Password-compatible peer
// ---------------------------------------------------------------------------------------------------

export interface PeerOptions {
  /** The peer's members (imported): the identities Cordon acts on. */
  emails: string[];
  /** The peer account's only OWNER (suspending them is refused: 403 no_owner_remain). */
  ownerEmail?: string;
  /** More apps to make (e.g. one holding sessions:revoke_all for GTR); by name. */
  apps?: Array<{ name: string; permissions: string[] }>;
  env?: Record<string, string>;
}

export interface Peer {
  database: PgDatabase;
  node: ProcessNode;
  url: string;
  accountId: string;
  ownerEmail: string;
  /** The Users API app (the four permissions): what a onepassword target's credentials hold. */
  clientId: string;
  clientSecret: string;
  apps: Record<string, { clientId: string; clientSecret: string }>;
  /** The peer's user id per email. */
  userIds: Map<string, string>;
  /** The onepassword target's config and credentials pointing at `baseUrl` (default: the peer itself). */
  targetSpec(baseUrl?: string): { config: Record<string, unknown>; credentials: Record<string, string> };
  /** An access token for one of the peer's apps (client_credentials). */
  appToken(app?: string): Promise<string>;
  /** The users' real states on the peer, by email (the judge). */
  states(): Promise<Map<string, string>>;
  /** The peer's own audit entries (numbered and waiting), oldest first; of one action when given. */
  audit(action?: string): Promise<AuditRecord[]>;
  /** Per peer user id: how many `user.suspend` (or reactivate) entries CHANGED the user. */
  changes(action: 'user.suspend' | 'user.reactivate'): Promise<Map<string, number>>;
  /** Restarts the peer process (same database, a new port: update targets that point at it directly). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startPeer(options: PeerOptions): Promise<Peer> {
  const database = await createPgDatabase('cordon_peer');
  const ownerEmail = options.ownerEmail ?? 'owner@corp.example';
  const seeded = await seedFresh(database, async (core) => {
    const { account } = await createAccount(core.directory, harnessCtx, {
      name: 'Peer Co',
      owner: { email: ownerEmail, display_name: 'Peer Owner' },
    });
    await importPeople(core, account.id, options.emails);
    const apps: Peer['apps'] = {};
    for (const spec of [{ name: 'cordon-target', permissions: USERS_API_PERMISSIONS }, ...(options.apps ?? [])]) {
      const made = await createApp(core.directory, harnessCtx, account.id, spec);
      apps[spec.name] = { clientId: made.app.client_id, clientSecret: made.clientSecret! };
    }
    const users = await core.database.db
      .selectFrom('users')
      .select(['id', 'email'])
      .where('account_id', '=', account.id)
      .execute();
    return { accountId: account.id, apps, userIds: new Map(users.map((u) => [u.email, u.id])) };
  });
  const env = { ...options.env };
  let node = await startNode(database, env).catch(async (error: unknown) => {
    await database.drop();
    throw error;
  });
  const { accountId, apps, userIds } = seeded;
  const main = apps['cordon-target']!;
  const peer: Peer = {
    database,
    node,
    get url() {
      return node.url;
    },
    accountId,
    ownerEmail,
    clientId: main.clientId,
    clientSecret: main.clientSecret,
    apps,
    userIds,
    targetSpec: (baseUrl = node.url) => ({
      config: { base_url: baseUrl, api_version: 'v1', account_id: accountId },
      credentials: { client_id: main.clientId, client_secret: main.clientSecret },
    }),
    async appToken(app = 'cordon-target') {
      const { clientId, clientSecret } = apps[app]!;
      const res = await fetch(`${node.url}/v1/oauth/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      });
      if (res.status !== 200) throw new Error(`peer token for ${app}: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { access_token: string }).access_token;
    },
    async states() {
      const rows = await database
        .db()
        .selectFrom('users')
        .select(['email', 'state'])
        .where('account_id', '=', accountId)
        .execute();
      return new Map(rows.map((r) => [r.email, r.state as string]));
    },
    async audit(action) {
      const all = await listAuditEntries(database.db(), { accountId, includeUnsequenced: true });
      return action ? all.filter((e) => e.action === action) : all;
    },
    async changes(action) {
      const counts = new Map<string, number>();
      for (const e of await peer.audit(action))
        if (e.outcome === 'changed') counts.set(e.target_id, (counts.get(e.target_id) ?? 0) + 1);
      return counts;
    },
    async restart() {
      await node.stop();
      node = await startNode(database, env);
      peer.node = node;
    },
    async close() {
      await node.stop();
      await database.drop();
    },
  };
  return peer;
}
