/**
 * `cordon automation restore-policy show|set`: how many people a restore needs (0: restore-after runs
 * unattended; 2: the two-person rule) and the approver group, through the API (setting it is for OWNERs).
 */
import type { Command } from 'commander';
import { printJson, usageError, type CliIo } from './io.js';
import { ACCOUNT_HELP, accountPath, type Api, type Run, runAdmin } from './remote.js';

interface RestorePolicy {
  restore_approvals: number;
  approver_group_id: string | null;
}

/** The group a policy names, by name (one call for the account's groups). */
async function groupName(api: Api, accountId: string, id: string | null): Promise<string | null> {
  if (id === null) return null;
  const { groups } = await api.call<{ groups: Array<{ id: string; name: string }> }>(
    'GET',
    `${accountPath(accountId)}/groups`,
  );
  return groups.find((g) => g.id === id)?.name ?? id;
}

/** The group given by id or by name, as an id. */
async function groupIdOf(api: Api, accountId: string, group: string): Promise<string> {
  const { groups } = await api.call<{ groups: Array<{ id: string; name: string }> }>(
    'GET',
    `${accountPath(accountId)}/groups`,
  );
  const found = groups.find((g) => g.id === group) ?? groups.find((g) => g.name === group);
  if (!found) throw usageError(`--approver-group: no group "${group}"`);
  return found.id;
}

function printPolicy(io: CliIo, policy: RestorePolicy, group: string | null): void {
  const n = policy.restore_approvals;
  io.stdout.write(
    `restores need ${n === 0 ? 'no approval: restore-after runs unattended' : `${n} approval${n === 1 ? '' : 's'}`}\n` +
      `approvers: OWNERs, ADMINs${group ? ` and members of ${group}` : ''}\n`,
  );
}

export function restorePolicyCommand(automation: Command, io: CliIo, run: Run): void {
  const policy = automation
    .command('restore-policy')
    .description('How many people a restore needs, and who may approve one');
  policy
    .command('show')
    .description('The restore policy')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const { current, group } = await runAdmin(
          io,
          'automation restore-policy show',
          opts.account,
          async (api, a) => {
            const read = await api.call<RestorePolicy>('GET', `${accountPath(a)}/automation/restore-policy`);
            return { current: read, group: opts.json ? null : await groupName(api, a, read.approver_group_id) };
          },
        );
        if (opts.json) return printJson(io, current);
        printPolicy(io, current, group);
      }),
    );
  policy
    .command('set')
    .description('Set the restore policy (OWNERs only)')
    .requiredOption('--approvals <n>', '0, 1 or 2 (the two-person rule)')
    .option('--approver-group <group>', 'a group (id or name) whose members may approve too; "none" for none')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((opts: { approvals: string; approverGroup?: string; account?: string; json?: boolean }) =>
      run(async () => {
        if (!/^[0-2]$/.test(opts.approvals)) throw usageError('--approvals must be 0, 1 or 2');
        const { updated, group } = await runAdmin(io, 'automation restore-policy set', opts.account, async (api, a) => {
          const path = `${accountPath(a)}/automation/restore-policy`;
          const groupId =
            opts.approverGroup === undefined
              ? (await api.call<RestorePolicy>('GET', path)).approver_group_id
              : opts.approverGroup === 'none'
                ? null
                : await groupIdOf(api, a, opts.approverGroup);
          const set = await api.call<RestorePolicy>('PUT', path, {
            restore_approvals: Number(opts.approvals),
            approver_group_id: groupId,
          });
          return { updated: set, group: await groupName(api, a, set.approver_group_id) };
        });
        if (opts.json) return printJson(io, updated);
        printPolicy(io, updated, group);
      }),
    );
}
