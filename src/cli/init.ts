import type { Command } from 'commander';
import { createAccount } from '../directory/accounts.js';
import { operatorContext, withCore } from './context.js';
import { credentialsView } from '../directory/credentials.js';
import { describeCredentials } from './credentials.js';
import { printJson, type CliIo } from './io.js';

export function initCommand(program: Command, io: CliIo, run: (fn: () => Promise<void>) => Promise<void>): void {
  program
    .command('init')
    .description("Create an account and its owner; prints the owner's generated password (to change at first sign-in) and TOTP seed once")
    .requiredOption('--name <name>', 'account name')
    .requiredOption('--owner-email <email>', "the owner's email")
    .option('--owner-name <name>', "the owner's display name", 'Account Owner')
    .option('--json', "print JSON: account_id and the owner's credentials (password, totp_secret, totp_uri)")
    .action((opts: { name: string; ownerEmail: string; ownerName: string; json?: boolean }) =>
      run(() =>
        withCore(io, 'init', async (core) => {
          const created = await createAccount(core.directory, operatorContext(core), {
            name: opts.name,
            owner: { email: opts.ownerEmail, display_name: opts.ownerName },
          });
          if (opts.json) {
            printJson(io, {
              account_id: created.account.id,
              owner: { user_id: created.owner.id, email: created.owner.email, ...credentialsView(created.owner.email, created.ownerCredentials) },
            });
          } else {
            io.stdout.write(
              `Created account "${created.account.name}" (${created.account.id})\n` +
                `Owner: ${created.owner.email} (${created.owner.id})\n` +
                `${describeCredentials(created.owner.email, created.ownerCredentials)}\n`,
            );
          }
        }),
      ),
    );
}
