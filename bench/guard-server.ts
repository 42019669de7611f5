/**
 * Server for bench/guard.ts: Cordon's HTTP stack with two no-op routes, one public and one behind the
 * resource guard, on the database given in the environment. Prints the URL when listening.
 */
import { Type } from 'typebox';
import { createCore } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { buildServer } from '../src/http/server.js';
import { createLogger } from '../src/logger.js';
import { requirePermission } from '../src/http/guards/app-token.js';

const { config } = loadConfig(process.env);
const core = await createCore(config, { holder: 'bench', logger: createLogger('warn') });
const server = await buildServer(core, {
  register: (app) => {
    app.get(
      '/v1/accounts/:account/noop-open',
      { schema: { response: { 200: Type.Object({ ok: Type.Boolean() }) } } },
      async () => ({ ok: true }),
    );
    app.get(
      '/v1/accounts/:account/noop',
      {
        preHandler: requirePermission(core, 'users:list'),
        schema: { response: { 200: Type.Object({ ok: Type.Boolean() }) } },
      },
      async () => ({ ok: true }),
    );
  },
});
await server.listen({ host: '127.0.0.1', port: 0 });
core.issuer = `http://127.0.0.1:${(server.server.address() as { port: number }).port}`;
process.stdout.write(`serving on ${core.issuer}\n`);
process.once('SIGTERM', () => void server.close().then(() => core.close()));
