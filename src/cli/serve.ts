import type { Command } from 'commander';
import { startServer } from '../app.js';
import { createLogger } from '../logger.js';
import { describeFirstStart } from './banner.js';
import { readConfig } from './context.js';
import type { CliIo } from './io.js';

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
        const t = server.startup;
        const timings =
          `database ${t.databaseMs} ms${t.fromTemplate ? ' (from the migrated template)' : ''}, migrations ` +
          `${t.migrationsMs} ms, demo ${t.demoMs} ms, http ${t.httpMs} ms`;
        // The next steps first: the serving line stays the last one of a start (scripts wait for it).
        if (server.demo) io.stdout.write(`${describeFirstStart(server.demo, server.url)}\n\n`);
        if (server.metricsUrl) io.stdout.write(`Prometheus metrics on ${server.metricsUrl}\n`);
        io.stdout.write(`The console is on ${server.url}/console\n`);
        io.stdout.write(
          `Cordon is serving on ${server.url} (${server.core.database.backend}, ready in ${Date.now() - started} ms: ` +
            `${timings})\n`,
        );

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
