import type { Command } from 'commander';
import { createCore } from '../app.js';
import { seedDemoIfEmpty, type DemoSummary } from '../directory/demo.js';
import { buildServer } from '../http/server.js';
import { createLogger } from '../logger.js';
import { operatorContext, readConfig } from './context.js';
import type { CliIo } from './io.js';

function describeDemo(demo: DemoSummary): string {
  return [
    `Created the demo account "${demo.account.name}" (${demo.account.id}):`,
    `  owner ${demo.owner.email} (${demo.owner.id}), one-time password: ${demo.ownerPassword}`,
    `  ${demo.admins} admins, ${demo.members} members, groups: ${demo.groups.join(', ')}, ${demo.sessions} open sessions`,
    '  (the password is shown once and kept only as a hash; set CORDON_DEMO=false to start empty)',
  ].join('\n');
}

/** Runs until SIGINT or SIGTERM, then shuts down cleanly (releasing the data dir lock). */
export function serveCommand(program: Command, io: CliIo, run: (fn: () => Promise<void>) => Promise<void>): void {
  program
    .command('serve')
    .description('Run the HTTP server (migrates the database at start)')
    .option('--listen <host:port>', 'address to listen on (default: CORDON_LISTEN or 127.0.0.1:8080)')
    .action((opts: { listen?: string }) =>
      run(async () => {
        const started = Date.now();
        const { config, notices } = readConfig(io, opts.listen ? { CORDON_LISTEN: opts.listen } : {});
        for (const notice of notices) io.stdout.write(`notice: ${notice}\n`);
        const logger = createLogger(config.logLevel);
        const core = await createCore(config, { holder: 'serve', logger });
        let app;
        try {
          if (config.demo) {
            const demo = await seedDemoIfEmpty(core.directory, operatorContext(core));
            if (demo) io.stdout.write(describeDemo(demo) + '\n');
          }
          app = await buildServer(core);
          await app.listen({ host: config.listen.host, port: config.listen.port });
        } catch (error) {
          await app?.close();
          await core.close();
          throw error;
        }
        const address = app.server.address();
        const port = typeof address === 'object' && address ? address.port : config.listen.port;
        const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
        const url = `${config.tls ? 'https' : 'http'}://${host}:${port}`;
        core.database.lock?.update({ url });
        io.stdout.write(`Cordon is serving on ${url} (${core.database.backend}, ready in ${Date.now() - started} ms)\n`);

        await new Promise<void>((resolve) => {
          const stop = () => resolve();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        io.stdout.write('Shutting down…\n');
        await app.close();
        await core.close();
      }),
    );
}
