/**
 * `cordon audit export` writes a log as JSON Lines (directly, or through the server that holds the
 * data); `cordon audit verify` checks such an export with nothing else: every leaf, the root, the
 * checkpoint's signature and, given an older saved checkpoint, that the log still extends it.
 */
import { accessSync, constants, createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { exportLog } from '../audit/export.js';
import { verifyExport } from '../audit/verify.js';
import { EXIT, printJson, Reported, usageError, type CliIo } from './io.js';
import { createProgress } from './progress.js';
import { runAdmin } from './remote.js';

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw usageError(`cannot read ${what} ${file}: ${(error as Error).message}`);
  }
}

export function auditCommand(program: Command, io: CliIo, run: (fn: () => Promise<void>) => Promise<void>): void {
  const audit = program.command('audit').description('The audit log: export it, verify an export');

  audit
    .command('export')
    .description("Write an account's audit log, up to its latest signed checkpoint, as JSON Lines")
    .option('--account <id>', 'account id (default: the signed-in account, or the only one)')
    .option('--out <file>', 'write here instead of standard output')
    .action((opts: { account?: string; out?: string }) =>
      run(async () => {
        const out = opts.out ? createWriteStream(opts.out, { mode: 0o600 }) : io.stdout;
        const write = async (lines: AsyncIterable<string>) => {
          for await (const chunk of lines) if (!out.write(chunk)) await once(out, 'drain');
        };
        await runAdmin(io, 'audit export', opts.account, {
          direct: (core, accountId) => write(exportLog(core.database.db, core.checkpointKey, accountId)),
          api: (client, accountId) => write(client.stream(`/v1/accounts/${encodeURIComponent(accountId)}/audit/export`)),
        });
        if (opts.out) await new Promise<void>((resolve, reject) => (out as NodeJS.WritableStream).end((error?: Error | null) => (error ? reject(error) : resolve())));
      }),
    );

  audit
    .command('verify <export>')
    .description('Check an export offline: every leaf, the root, the signature and, with --previous, consistency. Exit 0 only when all hold')
    .option('--key <verifier-key>', 'the C2SP verifier key you trust (GET /v1/audit/keys); without it the export’s own key is used, which proves nothing about who signed')
    .option('--previous <checkpoint-file>', 'an older signed checkpoint of this log you saved: the export must extend it')
    .option('--json', 'print the report as JSON')
    .action((file: string, opts: { key?: string; previous?: string; json?: boolean }) =>
      run(async () => {
        try {
          accessSync(file, constants.R_OK);
        } catch (error) {
          throw usageError(`cannot read the export ${file}: ${(error as Error).message}`);
        }
        const input = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
        let progress: ReturnType<typeof createProgress> | undefined;
        const report = await verifyExport(input, {
          ...(opts.key ? { trustedKey: opts.key } : {}),
          ...(opts.previous ? { previousCheckpoint: readText(opts.previous, 'the checkpoint') } : {}),
          onProgress: (done, total) => (progress ??= createProgress(io.stderr, 'verifying', total)).update(done),
        });
        if (opts.json) printJson(io, report);
        if (!report.ok) {
          if (!opts.json) io.stderr.write(`cordon: verification FAILED${report.firstBadIndex === undefined ? '' : ` at entry ${report.firstBadIndex}`}: ${report.problem}\n`);
          throw new Reported(EXIT.FAILURE);
        }
        if (!opts.json) {
          progress?.finish(`verified ${report.size} entries`);
          io.stdout.write(
            `OK: ${report.size} entries of log ${report.log} reproduce the signed root ${report.root}` +
              `${report.previous ? `, consistent with the checkpoint of size ${report.previous.size}` : ''}` +
              `${report.trusted ? '' : ' (signed by the key inside the export: pass --key to check who signed it)'}\n`,
          );
        }
      }),
    );
}
