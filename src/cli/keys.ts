import type { Command } from 'commander';
import { operatorContext, withCore } from './context.js';
import { printJson, type CliIo } from './io.js';

export function keysCommand(program: Command, io: CliIo, run: (fn: () => Promise<void>) => Promise<void>): void {
  program
    .command('keys')
    .description('Token-signing keys')
    .command('rotate')
    .description('Make a new signing key; tokens signed with the old one verify until they expire')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) =>
      run(() =>
        withCore(io, 'keys rotate', async (core) => {
          const result = await core.keys.rotate(core.audit, operatorContext(core));
          if (opts.json) printJson(io, result);
          else io.stdout.write(`new signing key ${result.kid}${result.retired.length ? `; retired ${result.retired.join(', ')}` : ''}\n`);
        }),
      ),
    );
}
