/**
 * One suite, every backend: `describeBackends` runs a block once per backend in CORDON_TEST_BACKENDS,
 * each with a fresh database cloned from the migrated template.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject } from 'vitest';
import { createCore } from '../../src/app.js';
import type { Core } from '../../src/core.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { runCli } from './cli.js';
import { BACKENDS, PG_SERVER_URL, PG_TEMPLATE, type TestBackend } from './env.js';

export { BACKENDS, type TestBackend };

/** A fixed key-encryption key for the PostgreSQL test databases (never used outside tests). */
const TEST_KEK = Buffer.alloc(32, 7).toString('base64url');
const TEST_ISSUER = 'http://127.0.0.1:8080';

export interface TestDatabase {
  backend: TestBackend;
  /** Environment that points the app (or a child process) at this database. */
  env: Record<string, string>;
  /** A PGlite dump to start from (embedded backend only); consumed by the first open. */
  loadDataDir: Blob | undefined;
  drop(): Promise<void>;
}

/** A fresh, migrated database on the given backend. */
export async function createTestDatabase(backend: TestBackend): Promise<TestDatabase> {
  if (backend === 'pglite') {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'cordon-pglite-'));
    return {
      backend,
      env: { CORDON_DATA_DIR: dataDir },
      loadDataDir: new Blob([readFileSync(inject('pgliteTemplate'))]),
      drop: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const name = `cordon_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: `${PG_SERVER_URL}/postgres` });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${PG_TEMPLATE}`);
  } finally {
    await admin.end();
  }
  return {
    backend,
    // The issuer every node shares (required with DATABASE_URL): the one an embedded core takes by default.
    env: { DATABASE_URL: `${PG_SERVER_URL}/${name}`, CORDON_KEY_ENCRYPTION_KEY: TEST_KEK, CORDON_ISSUER: TEST_ISSUER },
    loadDataDir: undefined,
    drop: async () => {
      const client = new pg.Client({ connectionString: `${PG_SERVER_URL}/postgres` });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** Opens the app core on a test database (quiet logs, a fast sequencer poll). */
export async function openTestCore(
  database: TestDatabase,
  env: Record<string, string> = {},
  logger = createLogger('silent'),
): Promise<Core> {
  const { config } = loadConfig({ CORDON_SEQUENCER_INTERVAL_MS: '20', CORDON_DEMO: 'false', ...database.env, ...env });
  const loadDataDir = database.loadDataDir;
  database.loadDataDir = undefined;
  return createCore(config, { holder: 'test', logger, ...(loadDataDir ? { loadDataDir } : {}) });
}

/** Runs `fn` as a describe block per backend. */
export function describeBackends(name: string, fn: (backend: TestBackend) => void): void {
  for (const backend of BACKENDS) describe(`${name} [${backend}]`, () => fn(backend));
}

/** A fresh database and core for each test of the enclosing block. */
export function useFreshCore(backend: TestBackend): { core: Core; database: TestDatabase } {
  const fresh = {} as { core: Core; database: TestDatabase };
  beforeEach(async () => {
    fresh.database = await createTestDatabase(backend);
    fresh.core = await openTestCore(fresh.database);
  });
  afterEach(async () => {
    await fresh.core.close();
    await fresh.database.drop();
  });
  return fresh;
}

/**
 * One database and core for every test of the enclosing block, for tests that each make an account of
 * their own (seedAccount, createAccount) and look only inside it: an empty database per test would cost
 * a core's start each (1 to 2 s) and check nothing more. Tests that need the database empty (the first
 * signing key, the demo seed, the audit sequencer's global state) keep useFreshCore.
 */
export function useSharedCore(backend: TestBackend): { core: Core; database: TestDatabase } {
  const shared = {} as { core: Core; database: TestDatabase };
  beforeAll(async () => {
    shared.database = await createTestDatabase(backend);
    shared.core = await openTestCore(shared.database);
  });
  afterAll(async () => {
    await shared.core?.close();
    await shared.database?.drop();
  });
  return shared;
}

/**
 * A fresh database where the CLI made the account (`cordon init`, as an operator would) and one user
 * (`ada@…`, a MEMBER): what the CLI suites start from. The demo seed is off.
 */
export async function createCliAccount(
  backend: TestBackend,
  userEmail: string,
): Promise<{ database: TestDatabase; env: Record<string, string>; accountId: string }> {
  const database = await createTestDatabase(backend);
  await (await openTestCore(database)).close();
  const env = { ...database.env, CORDON_DEMO: 'false' };
  const init = await runCli(
    ['init', '--name', 'Acme', '--owner-email', 'boss@acme.example', '--owner-name', 'Boss', '--json'],
    env,
  );
  expect(init.code, init.stderr).toBe(0);
  const created = await runCli(['users', 'create', '--email', userEmail, '--name', 'Ada'], env);
  expect(created.code, created.stderr).toBe(0);
  return { database, env, accountId: JSON.parse(init.stdout).account_id as string };
}
