import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { appView } from '../http/views/apps.js';
import { AUTH_METHODS } from '../oauth/apps.js';
import { PERMISSIONS } from '../oauth/permissions.js';
import type { AuthMethod } from '../storage/schema.js';
import { printJson, printList, printTable, usageError, type CliIo } from './io.js';
import { eventsTokenCommands } from './events-tokens.js';
import { ACCOUNT_HELP, runAdmin } from './remote.js';

function positiveInteger(flag: string, value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw usageError(`${flag}: expected a positive integer, got "${value}"`);
  return Number(value);
}

const list = (value: string | undefined) =>
  value
    ? value
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean)
    : undefined;

type AppJson = ReturnType<typeof appView>;
type WithSecret = AppJson & { client_secret?: string };
const appsPath = (accountId: string, app?: string) =>
  `/v1/accounts/${encodeURIComponent(accountId)}/apps${app === undefined ? '' : `/${encodeURIComponent(app)}`}`;

function printApps(io: CliIo, apps: AppJson[]): void {
  printTable(
    io,
    ['ID', 'Client ID', 'Name', 'Permissions', 'Auth', 'Disabled'],
    apps.map((a) => [
      a.id,
      a.client_id,
      a.name,
      a.permissions.join(' '),
      a.auth_method + (a.dpop_required ? '+DPoP' : ''),
      a.disable_time ? 'yes' : '',
    ]),
    'no apps',
  );
}

/** The constraints an admin set, and the ceiling the app's maker puts on it. */
function printConstraints(io: CliIo, app: AppJson, maker: string | null): void {
  const c = app.constraints;
  const ceiling = c.maker_ceiling;
  const lines = [
    `Groups it may act on: ${c.allowed_group_ids.length > 0 ? c.allowed_group_ids.join(', ') : 'any'}`,
    `Roles it may never touch: ${c.protected_roles.length > 0 ? c.protected_roles.join(', ') : 'none'}`,
    `Suspensions per hour: ${c.max_suspensions_per_hour ?? 'no cap'}`,
    `Made by: ${c.maker.user_id === null ? 'the operator (no ceiling)' : `${maker} (${c.maker.role} then)`}`,
    `Maker ceiling: ${
      ceiling.powerless
        ? 'the maker can no longer exercise anything: the app acts on nothing'
        : ceiling.roles_out_of_reach.length === 0
          ? 'none'
          : `never acts on ${ceiling.roles_out_of_reach.join(' or ')} users; never holds ` +
            `${ceiling.permissions_withheld.join(', ')}`
    }`,
  ];
  io.stdout.write(`${lines.join('\n')}\n`);
}

function printSecretOnce(io: CliIo, app: WithSecret, json: boolean | undefined): void {
  if (json) return printJson(io, app);
  printApps(io, [app]);
  if (app.client_secret)
    io.stdout.write(`Client secret: ${app.client_secret}\nStore it now: it is shown once and kept only as a hash.\n`);
}

export function appsCommand(program: Command, io: CliIo, run: (fn: () => Promise<void>) => Promise<void>): void {
  const apps = program.command('apps').description('OAuth apps: create, list, inspect, disable, rotate secrets');

  apps
    .command('create')
    .description(
      `Create an OAuth app; the client secret is printed once. Permissions: ${Object.keys(PERMISSIONS).join(', ')}`,
    )
    .requiredOption('--name <name>', 'app name')
    .requiredOption('--permissions <list>', 'comma-separated permissions')
    .option('--auth-method <method>', `${AUTH_METHODS.join(' | ')}`, 'client_secret_basic')
    .option('--jwks <file>', 'public JWKS file (private_key_jwt)')
    .option('--dpop', 'require DPoP-bound tokens')
    .option('--groups <ids>', 'constraint: the only group ids whose members it may act on')
    .option('--protected-roles <roles>', 'constraint: roles it may never touch, e.g. OWNER,ADMIN')
    .option('--max-suspensions-per-hour <n>', 'constraint: suspension cap per hour')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON, with client_secret this once')
    .action(
      (opts: {
        name: string;
        permissions: string;
        authMethod: string;
        jwks?: string;
        dpop?: boolean;
        groups?: string;
        protectedRoles?: string;
        maxSuspensionsPerHour?: string;
        account?: string;
        json?: boolean;
      }) =>
        run(async () => {
          let jwks: { keys: Record<string, unknown>[] } | undefined;
          if (opts.jwks) {
            try {
              jwks = JSON.parse(readFileSync(opts.jwks, 'utf8')) as { keys: Record<string, unknown>[] };
            } catch (error) {
              throw usageError(`cannot read a JWKS from ${opts.jwks}: ${(error as Error).message}`);
            }
          }
          const input = {
            name: opts.name,
            permissions: list(opts.permissions) ?? [],
            auth_method: opts.authMethod as AuthMethod,
            jwks,
            dpop_required: opts.dpop ?? false,
            constraints: {
              allowed_group_ids: list(opts.groups),
              protected_roles: list(opts.protectedRoles)?.map((r) => r.toUpperCase()),
              max_suspensions_per_hour:
                opts.maxSuspensionsPerHour === undefined
                  ? undefined
                  : positiveInteger('--max-suspensions-per-hour', opts.maxSuspensionsPerHour),
            },
          };
          const created = await runAdmin(io, 'apps create', opts.account, (api, accountId) =>
            api.call<WithSecret>('POST', appsPath(accountId), input),
          );
          printSecretOnce(io, created, opts.json);
        }),
    );

  apps
    .command('list')
    .description('List the OAuth apps of an account')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const { apps: rows } = await runAdmin(io, 'apps list', opts.account, (api, accountId) =>
          api.call<{ apps: AppJson[] }>('GET', appsPath(accountId)),
        );
        if (opts.json) printList(io, rows);
        else printApps(io, rows);
      }),
    );

  apps
    .command('get <app>')
    .description('Show one OAuth app (never its secret)')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((appId: string, opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const { app, maker } = await runAdmin(io, 'apps get', opts.account, async (api, accountId) => {
          const got = await api.call<AppJson>('GET', appsPath(accountId, appId));
          const id = got.constraints.maker.user_id;
          if (opts.json || id === null) return { app: got, maker: id };
          // The maker by name; one who was deleted since stays an id.
          const person = await api
            .call<{ email: string; display_name: string }>(
              'GET',
              `/v1/accounts/${encodeURIComponent(accountId)}/users/${encodeURIComponent(id)}/profile`,
            )
            .then(
              (p) => `${p.display_name} <${p.email}>`,
              () => `${id} (deleted)`,
            );
          return { app: got, maker: person };
        });
        if (opts.json) return printJson(io, app);
        printApps(io, [app]);
        printConstraints(io, app, maker);
      }),
    );

  apps
    .command('disable <app>')
    .description('Disable an OAuth app: it gets no new tokens (idempotent)')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((appId: string, opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const { app, changed } = await runAdmin(io, 'apps disable', opts.account, (api, accountId) =>
          api.call<{ app: AppJson; changed: boolean }>('POST', `${appsPath(accountId, appId)}:disable`),
        );
        if (opts.json) printJson(io, { app, changed });
        else
          io.stdout.write(
            changed ? `disabled ${app.name} (${app.id})\n` : `${app.name} (${app.id}) was already disabled\n`,
          );
      }),
    );

  apps
    .command('rotate-secret <app>')
    .description('Replace the client secret; the old one stops working at once. Prints the new one once')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON, with client_secret this once')
    .action((appId: string, opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const rotated = await runAdmin(io, 'apps rotate-secret', opts.account, (api, accountId) =>
          api.call<WithSecret>('POST', `${appsPath(accountId, appId)}:rotateSecret`),
        );
        printSecretOnce(io, rotated, opts.json);
      }),
    );
  eventsTokenCommands(apps, io, run);
}
