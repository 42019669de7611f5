/**
 * `cordon keys`: the token-signing keys, for the local operator only, through the in-process API
 * (/v1/signing-keys, which no served instance admits).
 */
import type { Command } from 'commander';
import { printJson, printList, printTable, type CliIo } from './io.js';
import { runLocal } from './remote.js';

interface KeyJson {
  kid: string;
  status: string;
  create_time: string;
  retire_time: string | null;
  revoke_time: string | null;
}

export function keysCommand(program: Command, io: CliIo, run: (fn: () => Promise<void>) => Promise<void>): void {
  const keys = program.command('keys').description('Token-signing keys');
  keys
    .command('list')
    .description(
      'Every signing key, newest first: active (signs), retired (verifies its tokens until they expire) or revoked',
    )
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) =>
      run(async () => {
        const { keys: listed } = await runLocal(io, 'keys list', (api) =>
          api.call<{ keys: KeyJson[] }>('GET', '/v1/signing-keys'),
        );
        if (opts.json) printList(io, listed);
        else
          printTable(
            io,
            ['KID', 'STATUS', 'CREATED', 'RETIRED', 'REVOKED'],
            listed.map((k) => [k.kid, k.status, k.create_time, k.retire_time ?? '', k.revoke_time ?? '']),
            'no signing keys yet',
          );
      }),
    );
  keys
    .command('rotate')
    .description('Make a new signing key; tokens signed with the old one verify until they expire')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) =>
      run(async () => {
        const result = await runLocal(io, 'keys rotate', (api) =>
          api.call<{ kid: string; retired: string[] }>('POST', '/v1/signing-keys:rotate'),
        );
        if (opts.json) printJson(io, result);
        else
          io.stdout.write(
            `new signing key ${result.kid}${result.retired.length ? `; retired ${result.retired.join(', ')}` : ''}\n`,
          );
      }),
    );
  keys
    .command('revoke')
    .description(
      'Revoke a leaked signing key: every token it signed stops working at once, on every node (revoking the active ' +
        'key makes a new one)',
    )
    .argument('<kid>', "the key id (see `cordon keys list`); one that begins with '-' goes after `--`")
    .option('--json', 'print JSON')
    .action((kid: string, opts: { json?: boolean }) =>
      run(async () => {
        const result = await runLocal(io, 'keys revoke', (api) =>
          api.call<{ kid: string; replaced_by: string | null }>(
            'POST',
            `/v1/signing-keys/${encodeURIComponent(kid)}:revoke`,
          ),
        );
        if (opts.json) printJson(io, result);
        else
          io.stdout.write(
            `revoked signing key ${result.kid}${result.replaced_by ? `; new signing key ${result.replaced_by}` : ''}\n`,
          );
      }),
    );
}
