/**
 * Directory administration at the command line: users create|update|delete|sessions and groups. Like
 * every admin command they run directly on the database when nothing holds it, and through the API
 * (http/routes/directory.ts) as the signed-in person when a server does (cli/remote.ts).
 */
import type { Command } from 'commander';
import { addMember, createGroup, deleteGroup, removeMember } from '../directory/groups.js';
import { deleteUser, updateUser, type UserChanges } from '../directory/user-admin.js';
import { groupView, sessionView, userProfile } from '../http/views/directory.js';
import { createUser, getUser } from '../directory/users.js';
import { ROLES } from '../directory/validate.js';
import type { UserRole } from '../storage/schema.js';
import { listGroups } from '../store/groups.js';
import { listSessionsOfUser } from '../store/sessions.js';
import { operatorContext } from './context.js';
import { printJson, printTable, usageError, type CliIo } from './io.js';
import { ACCOUNT_HELP, accountPath, type Run, runAdmin } from './remote.js';

const seg = encodeURIComponent;

type Profile = Awaited<ReturnType<typeof userProfile>>;
type GroupJson = Awaited<ReturnType<typeof groupView>>;

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
  printTable(io, ['ID', 'Email', 'Name', 'State', 'Role', 'EAM', 'Groups'], [[user.id, user.email, user.display_name, user.state, user.role, user.externally_managed ? 'yes' : '', user.group_ids.join(',')]]);
}

function printGroups(io: CliIo, json: boolean | undefined, groups: GroupJson[]): void {
  if (json) return printJson(io, { groups });
  printTable(io, ['ID', 'Name', 'Members'], groups.map((g) => [g.id, g.name, String(g.member_ids.length)]));
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
    .action((opts: { email: string; name: string; role: string; externallyManaged?: boolean; groups?: string; account?: string; json?: boolean }) =>
      run(async () => {
        const input = {
          email: opts.email,
          display_name: opts.name,
          role: role(opts.role),
          ...(opts.externallyManaged ? { externally_managed: true } : {}),
          ...(opts.groups ? { groups: opts.groups.split(',').map((g) => g.trim()).filter(Boolean) } : {}),
        };
        const user = await runAdmin<Profile>(io, 'users create', opts.account, {
          direct: async (core, accountId) => userProfile(core.database.db, await createUser(core.directory, operatorContext(core), accountId, input)),
          api: (client, accountId) => client.call('POST', `${accountPath(accountId)}/users`, input),
        });
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
    .action((userId: string, opts: { email?: string; name?: string; role?: string; externallyManaged?: string; account?: string; json?: boolean }) =>
      run(async () => {
        const changes: UserChanges = { email: opts.email, display_name: opts.name, role: role(opts.role), externally_managed: flag('--externally-managed', opts.externallyManaged) };
        const given = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
        if (Object.keys(given).length === 0) throw usageError('give at least one of --email, --name, --role, --externally-managed');
        const user = await runAdmin<Profile>(io, 'users update', opts.account, {
          direct: async (core, accountId) => userProfile(core.database.db, (await updateUser(core.directory, operatorContext(core), accountId, userId, changes)).user),
          api: (client, accountId) => client.call('PATCH', `${accountPath(accountId)}/users/${seg(userId)}`, given),
        });
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
        const gone = await runAdmin<{ id: string; email: string }>(io, 'users delete', opts.account, {
          direct: async (core, accountId) => {
            const user = await deleteUser(core.directory, operatorContext(core), accountId, userId);
            return { id: user.id, email: user.email };
          },
          api: (client, accountId) => client.call('DELETE', `${accountPath(accountId)}/users/${seg(userId)}`),
        });
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
        const { sessions } = await runAdmin<{ sessions: Array<ReturnType<typeof sessionView>> }>(io, 'users sessions', opts.account, {
          direct: async (core, accountId) => {
            await getUser(core.directory, accountId, userId);
            return { sessions: (await listSessionsOfUser(core.database.db, accountId, userId)).map(sessionView) };
          },
          api: (client, accountId) => client.call('GET', `${accountPath(accountId)}/users/${seg(userId)}/sessions`),
        });
        if (opts.json) printJson(io, { sessions });
        else printTable(io, ['ID', 'Kind', 'Created', 'Ended', 'Why'], sessions.map((s) => [s.id, s.kind, s.create_time, s.revoke_time ?? '', s.revoke_reason ?? '']));
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
        const { groups: found } = await runAdmin<{ groups: GroupJson[] }>(io, 'groups list', opts.account, {
          direct: async (core, accountId) => ({ groups: await Promise.all((await listGroups(core.database.db, accountId)).map((g) => groupView(core.database.db, g))) }),
          api: (client, accountId) => client.call('GET', `${accountPath(accountId)}/groups`),
        });
        printGroups(io, opts.json, found);
      }),
    );

  groups
    .command('create <name>')
    .description('Create a group')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((name: string, opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const group = await runAdmin<GroupJson>(io, 'groups create', opts.account, {
          direct: async (core, accountId) => groupView(core.database.db, await createGroup(core.directory, operatorContext(core), accountId, name)),
          api: (client, accountId) => client.call('POST', `${accountPath(accountId)}/groups`, { name }),
        });
        printGroups(io, opts.json, [group]);
      }),
    );

  groups
    .command('delete <group>')
    .description('Delete a group and its memberships')
    .option('--account <id>', ACCOUNT_HELP)
    .action((groupId: string, opts: { account?: string }) =>
      run(async () => {
        const gone = await runAdmin<{ id: string; name: string }>(io, 'groups delete', opts.account, {
          direct: async (core, accountId) => deleteGroup(core.directory, operatorContext(core), accountId, groupId),
          api: (client, accountId) => client.call('DELETE', `${accountPath(accountId)}/groups/${seg(groupId)}`),
        });
        io.stdout.write(`deleted group ${gone.name} (${gone.id})\n`);
      }),
    );

  for (const [verb, change, method] of [
    ['add', addMember, 'PUT'],
    ['remove', removeMember, 'DELETE'],
  ] as const) {
    groups
      .command(`${verb} <group> <user>`)
      .description(verb === 'add' ? 'Add a user to a group (idempotent)' : 'Remove a user from a group (idempotent)')
      .option('--account <id>', ACCOUNT_HELP)
      .action((groupId: string, userId: string, opts: { account?: string }) =>
        run(async () => {
          const { changed } = await runAdmin<{ changed: boolean }>(io, `groups ${verb}`, opts.account, {
            direct: async (core, accountId) => ({ changed: await change(core.directory, operatorContext(core), accountId, groupId, userId) }),
            api: (client, accountId) => client.call(method, `${accountPath(accountId)}/groups/${seg(groupId)}/members/${seg(userId)}`),
          });
          io.stdout.write(changed ? `${verb === 'add' ? 'added' : 'removed'}\n` : 'nothing changed\n');
        }),
      );
  }
}
