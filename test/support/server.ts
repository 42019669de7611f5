/**
 * The preamble of the e2e suites: a fresh database on the backend, a core on it and the HTTP server,
 * made before the block's tests and closed after them (also when the setup failed half-way).
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import type { Core } from '../../src/core.js';
import { buildServer, type BuildServerOptions } from '../../src/http/server.js';
import { createTestDatabase, openTestCore, type TestBackend, type TestDatabase } from './backends.js';

export interface TestServer {
  database: TestDatabase;
  core: Core;
  server: FastifyInstance;
  /** The server's base URL, when it listens (`listen: true`); tests that inject() have none. */
  url: string;
}

export interface UseServerOptions {
  /** Settings over the test defaults (see openTestCore). */
  env?: Record<string, string>;
  logger?: Logger;
  /** Listen on a free loopback port, for tests that speak real HTTP. */
  listen?: boolean;
  build?: BuildServerOptions;
}

/** A database, core and server for the enclosing block; its fields are set once its beforeAll ran. */
export function useServer(backend: TestBackend, options: UseServerOptions = {}): TestServer {
  const suite = {} as TestServer;
  beforeAll(async () => {
    suite.database = await createTestDatabase(backend);
    suite.core = await openTestCore(suite.database, options.env, options.logger);
    suite.server = await buildServer(suite.core, options.build);
    if (options.listen) {
      await suite.server.listen({ host: '127.0.0.1', port: 0 });
      suite.url = `http://127.0.0.1:${(suite.server.server.address() as { port: number }).port}`;
    }
  });
  afterAll(async () => {
    await suite.server?.close();
    await suite.core?.close();
    await suite.database?.drop();
  });
  return suite;
}
