import type { Command } from 'commander';
import { startServer } from '../app.js';
import type { DemoSummary } from '../directory/demo.js';
import { createLogger } from '../logger.js';
import { readConfig } from './context.js';
import { describeCredentials } from './credentials.js';
import type { CliIo } from './io.js';

function describeDemo(demo: DemoSummary): string {
  return [
    `Created the demo account "${demo.account.name}" (${demo.account.id}):`,
    `  owner ${demo.owner.email} (${demo.owner.id}); sign in with \`cordon login\`:`,
    describeCredentials(demo.owner.email, demo.ownerCredentials, '    '),
    `  ${demo.admins} admins, ${demo.members} members, groups: ${demo.groups.join(', ')}, ${demo.sessions} open sessions`,
    '  (set CORDON_DEMO=false to start empty)',
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
        const server = await startServer(config, { logger: createLogger(config.logLevel) });
        if (server.demo) io.stdout.write(describeDemo(server.demo) + '\n');
        io.stdout.write(`Cordon is serving on ${server.url} (${server.core.database.backend}, ready in ${Date.now() - started} ms)\n`);
        if (server.metricsUrl) io.stdout.write(`Prometheus metrics on ${server.metricsUrl}\n`);

        await new Promise<void>((resolve) => {
          const stop = () => resolve();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        io.stdout.write('Shutting down…\n');
        await server.close();
      }),
    );
}
