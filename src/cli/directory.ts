/**
 * Directory administration at the command line: users create|update|delete|sessions and groups. Like
 * every admin command each has one body, the API's (http/routes/directory.ts), sent to the server that
 * holds the data or to the in-process instance as the local operator (cli/remote.ts).
 */
import type { Command } from 'commander';
import { ROLES } from '../directory/validate.js';
import type { UserRole } from '../storage/schema.js';
import { printJson, printList, printTable, usageError, type CliIo } from './io.js';
import { AppError } from '../errors.js';
import { ACCOUNT_HELP, accountPath, type Api, type Run, runAdmin } from './remote.js';

const seg = encodeURIComponent;

interface Profile {
  id: string;
  email: string;
  display_name: string;
  state: string;
  role: UserRole;
  externally_managed: boolean;
  group_ids: string[];
  create_time: string;
  update_time: string;
}
interface GroupJson {
  id: string;
  name: string;
  member_ids: string[];
  create_time: string;
}
interface SessionJson {
  id: string;
  kind: string;
  create_time: string;
  expire_time: string | null;
  revoke_time: string | null;
  revoke_reason: string | null;
}

/** The id of the user named by id or by email (`cordon users get alice@corp.example`). */
export async function userIdOf(api: Api, accountId: string, user: string): Promise<string> {
  if (!user.includes('@')) return user;
  const { users } = await api.call<{ users: Array<{ id: string }> }>(
    'GET',
    `${accountPath(accountId)}/profiles?email=${encodeURIComponent(user)}`,
  );
  if (users.length === 0) throw new AppError('USER_NOT_FOUND', { metadata: { email: user } });
  return users[0]!.id;
}

function role(value: string | undefined): UserRole | undefined {
  if (value === undefined) return undefined;
  const upper = value.toUpperCase();
  if (!ROLES.includes(upper as UserRole)) throw usageError(`--role must be one of ${ROLES.join(', ')}`);
  return upper as UserRole;
}

function flag(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value !== 'true' && value !== 'false') throw usageError(`${name} must be true or false`);
  return value === 'true';
}

function printProfile(io: CliIo, json: boolean | undefined, user: Profile): void {
  if (json) return printJson(io, user);
  printTable(
    io,
    ['ID', 'Email', 'Name', 'State', 'Role', 'EAM', 'Groups'],
    [
      [
        user.id,
        user.email,
        user.display_name,
        user.state,
        user.role,
        user.externally_managed ? 'yes' : '',
        user.group_ids.join(','),
      ],
    ],
  );
}

function printGroups(io: CliIo, groups: GroupJson[]): void {
  printTable(
    io,
    ['ID', 'Name', 'Members'],
    groups.map((g) => [g.id, g.name, String(g.member_ids.length)]),
    'no groups',
  );
}

/** Adds create, update, delete and sessions to `cordon users`. */
export function userAdminCommands(users: Command, io: CliIo, run: Run): void {
  users
    .command('create')
    .description('Create a user (an ADMIN creates MEMBERs only)')
    .requiredOption('--email <email>', 'email address')
    .requiredOption('--name <name>', 'display name')
    .option('--role <role>', ROLES.join(' | '), 'MEMBER')
    .option('--externally-managed', 'managed by an external identity provider: never suspended by Cordon')
    .option('--groups <names>', 'comma-separated group names (created when missing)')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action(
      (opts: {
        email: string;
        name: string;
        role: string;
        externallyManaged?: boolean;
        groups?: string;
        account?: string;
        json?: boolean;
      }) =>
        run(async () => {
          const input = {
            email: opts.email,
            display_name: opts.name,
            role: role(opts.role),
            ...(opts.externallyManaged ? { externally_managed: true } : {}),
            ...(opts.groups
              ? {
                  groups: opts.groups
                    .split(',')
                    .map((g) => g.trim())
                    .filter(Boolean),
                }
              : {}),
          };
          const user = await runAdmin(io, 'users create', opts.account, (api, accountId) =>
            api.call<Profile>('POST', `${accountPath(accountId)}/users`, input),
          );
          printProfile(io, opts.json, user);
        }),
    );

  users
    .command('update <user>')
    .description("Change a user's email, name, role or externally-managed mark (never demoting the last owner)")
    .option('--email <email>', 'new email address')
    .option('--name <name>', 'new display name')
    .option('--role <role>', ROLES.join(' | '))
    .option('--externally-managed <bool>', 'true or false')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action(
      (
        userId: string,
        opts: {
          email?: string;
          name?: string;
          role?: string;
          externallyManaged?: string;
          account?: string;
          json?: boolean;
        },
      ) =>
        run(async () => {
          const changes = {
            email: opts.email,
            display_name: opts.name,
            role: role(opts.role),
            externally_managed: flag('--externally-managed', opts.externallyManaged),
          };
          const given = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
          if (Object.keys(given).length === 0)
            throw usageError('give at least one of --email, --name, --role, --externally-managed');
          const user = await runAdmin(io, 'users update', opts.account, async (api, accountId) =>
            api.call<Profile>(
              'PATCH',
              `${accountPath(accountId)}/users/${seg(await userIdOf(api, accountId, userId))}`,
              given,
            ),
          );
          printProfile(io, opts.json, user);
        }),
    );

  users
    .command('delete <user>')
    .description('Delete a user with their sessions and memberships (never the last owner)')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((userId: string, opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const gone = await runAdmin(io, 'users delete', opts.account, async (api, accountId) =>
          api.call<{ id: string; email: string }>(
            'DELETE',
            `${accountPath(accountId)}/users/${seg(await userIdOf(api, accountId, userId))}`,
          ),
        );
        if (opts.json) printJson(io, gone);
        else io.stdout.write(`deleted ${gone.email} (${gone.id})\n`);
      }),
    );

  users
    .command('sessions <user>')
    .description("A user's sessions, live and ended")
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((userId: string, opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const { sessions } = await runAdmin(io, 'users sessions', opts.account, async (api, accountId) =>
          api.call<{ sessions: SessionJson[] }>(
            'GET',
            `${accountPath(accountId)}/users/${seg(await userIdOf(api, accountId, userId))}/sessions`,
          ),
        );
        if (opts.json) printList(io, sessions);
        else
          printTable(
            io,
            ['ID', 'Kind', 'Created', 'Ended', 'Why'],
            sessions.map((s) => [s.id, s.kind, s.create_time, s.revoke_time ?? '', s.revoke_reason ?? '']),
            'no sessions',
          );
      }),
    );
}

/** `cordon groups`: list, create, delete, add and remove members. */
export function groupsCommand(program: Command, io: CliIo, run: Run): void {
  const groups = program.command('groups').description('Groups and their members');

  groups
    .command('list')
    .description('The groups of the account')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const { groups: found } = await runAdmin(io, 'groups list', opts.account, (api, accountId) =>
          api.call<{ groups: GroupJson[] }>('GET', `${accountPath(accountId)}/groups`),
        );
        if (opts.json) printList(io, found);
        else printGroups(io, found);
      }),
    );

  groups
    .command('create <name>')
    .description('Create a group')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((name: string, opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const group = await runAdmin(io, 'groups create', opts.account, (api, accountId) =>
          api.call<GroupJson>('POST', `${accountPath(accountId)}/groups`, { name }),
        );
        if (opts.json) printJson(io, group);
        else printGroups(io, [group]);
      }),
    );

  groups
    .command('delete <group>')
    .description('Delete a group and its memberships')
    .option('--account <id>', ACCOUNT_HELP)
    .action((groupId: string, opts: { account?: string }) =>
      run(async () => {
        const gone = await runAdmin(io, 'groups delete', opts.account, (api, accountId) =>
          api.call<{ id: string; name: string }>('DELETE', `${accountPath(accountId)}/groups/${seg(groupId)}`),
        );
        io.stdout.write(`deleted group ${gone.name} (${gone.id})\n`);
      }),
    );

  for (const [verb, method] of [
    ['add', 'PUT'],
    ['remove', 'DELETE'],
  ] as const) {
    groups
      .command(`${verb} <group> <user>`)
      .description(verb === 'add' ? 'Add a user to a group (idempotent)' : 'Remove a user from a group (idempotent)')
      .option('--account <id>', ACCOUNT_HELP)
      .action((groupId: string, userId: string, opts: { account?: string }) =>
        run(async () => {
          const { changed } = await runAdmin(io, `groups ${verb}`, opts.account, async (api, accountId) =>
            api.call<{ changed: boolean }>(
              method,
              `${accountPath(accountId)}/groups/${seg(groupId)}/members/${seg(await userIdOf(api, accountId, userId))}`,
            ),
          );
          io.stdout.write(changed ? `${verb === 'add' ? 'added' : 'removed'}\n` : 'nothing changed\n');
        }),
      );
  }
}
