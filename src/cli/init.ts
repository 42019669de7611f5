/**
 * `cordon init`: an account and its first owner, made by the local operator through the in-process API
 * (POST /v1/accounts, which no served instance admits), whatever else runs.
 */
import type { Command } from 'commander';
import { describeCredentials } from './credentials.js';
import { printJson, type CliIo } from './io.js';
import { runLocal } from './remote.js';

interface Created {
  account: { id: string; name: string };
  owner: { user_id: string; email: string; password: string; totp_secret: string; totp_uri: string };
}

export function initCommand(program: Command, io: CliIo, run: (fn: () => Promise<void>) => Promise<void>): void {
  program
    .command('init')
    .description(
      "Create an account and its owner; prints the owner's generated password (to change at first sign-in) and TOTP " +
        'seed once',
    )
    .requiredOption('--name <name>', 'account name')
    .requiredOption('--owner-email <email>', "the owner's email")
    .option('--owner-name <name>', "the owner's display name", 'Account Owner')
    .option('--json', "print JSON: account_id and the owner's credentials (password, totp_secret, totp_uri)")
    .action((opts: { name: string; ownerEmail: string; ownerName: string; json?: boolean }) =>
      run(async () => {
        const { account, owner } = await runLocal(io, 'init', (api) =>
          api.call<Created>('POST', '/v1/accounts', {
            name: opts.name,
            owner: { email: opts.ownerEmail, display_name: opts.ownerName },
          }),
        );
        if (opts.json) printJson(io, { account_id: account.id, owner });
        else {
          io.stdout.write(
            `Created account "${account.name}" (${account.id})\n` +
              `Owner: ${owner.email} (${owner.user_id})\n` +
              `${describeCredentials(owner.email, { password: owner.password, totpSecret: owner.totp_secret })}\n`,
          );
        }
      }),
    );
}
