import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { appView, AUTH_METHODS, createApp, disableApp, getApp, listApps, rotateAppSecret } from '../oauth/apps.js';
import { PERMISSIONS } from '../oauth/permissions.js';
import type { AuthMethod, OAuthApp } from '../storage/schema.js';
import { operatorContext, resolveAccount, withCore } from './context.js';
import { printJson, printTable, usageError, type CliIo } from './io.js';

const list = (value: string | undefined) => (value ? value.split(',').map((v) => v.trim()).filter(Boolean) : undefined);

function printApps(io: CliIo, apps: OAuthApp[]): void {
  printTable(
    io,
    ['ID', 'Client ID', 'Name', 'Permissions', 'Auth', 'Disabled'],
    apps.map((a) => [a.id, a.client_id, a.name, a.permissions.join(' '), a.auth_method + (a.dpop_required ? '+DPoP' : ''), a.disabled_at ? 'yes' : '']),
  );
}

function printSecretOnce(io: CliIo, app: OAuthApp, secret: string | undefined): void {
  printApps(io, [app]);
  if (secret) io.stdout.write(`Client secret: ${secret}\nStore it now: it is shown once and kept only as a hash.\n`);
}

export function appsCommand(program: Command, io: CliIo, run: (fn: () => Promise<void>) => Promise<void>): void {
  const apps = program.command('apps').description('OAuth apps: create, list, inspect, disable, rotate secrets');

  apps
    .command('create')
    .description(`Create an OAuth app; the client secret is printed once. Permissions: ${Object.keys(PERMISSIONS).join(', ')}`)
    .requiredOption('--name <name>', 'app name')
    .requiredOption('--permissions <list>', 'comma-separated permissions')
    .option('--auth-method <method>', `${AUTH_METHODS.join(' | ')}`, 'client_secret_basic')
    .option('--jwks <file>', 'public JWKS file (private_key_jwt)')
    .option('--dpop', 'require DPoP-bound tokens')
    .option('--groups <ids>', 'constraint: the only group ids whose members it may act on')
    .option('--protected-roles <roles>', 'constraint: roles it may never touch, e.g. OWNER,ADMIN')
    .option('--max-suspensions-per-hour <n>', 'constraint: suspension cap per hour')
    .option('--account <id>', 'account id (default: the only account)')
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
        run(() =>
          withCore(io, 'apps create', async (core) => {
            let jwks: { keys: Record<string, unknown>[] } | undefined;
            if (opts.jwks) {
              try {
                jwks = JSON.parse(readFileSync(opts.jwks, 'utf8'));
              } catch (error) {
                throw usageError(`cannot read a JWKS from ${opts.jwks}: ${(error as Error).message}`);
              }
            }
            const cap = opts.maxSuspensionsPerHour === undefined ? undefined : Number(opts.maxSuspensionsPerHour);
            const { app, clientSecret } = await createApp(core.directory, operatorContext(core), await resolveAccount(core, opts.account), {
              name: opts.name,
              permissions: list(opts.permissions) ?? [],
              auth_method: opts.authMethod as AuthMethod,
              jwks,
              dpop_required: opts.dpop ?? false,
              allowed_group_ids: list(opts.groups),
              protected_roles: list(opts.protectedRoles)?.map((r) => r.toUpperCase()),
              max_suspensions_per_hour: cap,
            });
            if (opts.json) printJson(io, { ...appView(app), ...(clientSecret ? { client_secret: clientSecret } : {}) });
            else printSecretOnce(io, app, clientSecret);
          }),
        ),
    );

  apps
    .command('list')
    .description('List the OAuth apps of an account')
    .option('--account <id>', 'account id (default: the only account)')
    .option('--json', 'print JSON')
    .action((opts: { account?: string; json?: boolean }) =>
      run(() =>
        withCore(io, 'apps list', async (core) => {
          const rows = await listApps(core.directory, await resolveAccount(core, opts.account));
          if (opts.json) printJson(io, { apps: rows.map(appView) });
          else printApps(io, rows);
        }),
      ),
    );

  apps
    .command('get <app>')
    .description('Show one OAuth app (never its secret)')
    .option('--account <id>', 'account id (default: the only account)')
    .option('--json', 'print JSON')
    .action((appId: string, opts: { account?: string; json?: boolean }) =>
      run(() =>
        withCore(io, 'apps get', async (core) => {
          const app = await getApp(core.directory, await resolveAccount(core, opts.account), appId);
          if (opts.json) printJson(io, appView(app));
          else printApps(io, [app]);
        }),
      ),
    );

  apps
    .command('disable <app>')
    .description('Disable an OAuth app: it gets no new tokens (idempotent)')
    .option('--account <id>', 'account id (default: the only account)')
    .option('--json', 'print JSON')
    .action((appId: string, opts: { account?: string; json?: boolean }) =>
      run(() =>
        withCore(io, 'apps disable', async (core) => {
          const { app, changed } = await disableApp(core.directory, operatorContext(core), await resolveAccount(core, opts.account), appId);
          if (opts.json) printJson(io, { app: appView(app), changed });
          else io.stdout.write(changed ? `disabled ${app.name} (${app.id})\n` : `${app.name} (${app.id}) was already disabled\n`);
        }),
      ),
    );

  apps
    .command('rotate-secret <app>')
    .description('Replace the client secret; the old one stops working at once. Prints the new one once')
    .option('--account <id>', 'account id (default: the only account)')
    .option('--json', 'print JSON, with client_secret this once')
    .action((appId: string, opts: { account?: string; json?: boolean }) =>
      run(() =>
        withCore(io, 'apps rotate-secret', async (core) => {
          const { app, clientSecret } = await rotateAppSecret(core.directory, operatorContext(core), await resolveAccount(core, opts.account), appId);
          if (opts.json) printJson(io, { ...appView(app), client_secret: clientSecret });
          else printSecretOnce(io, app, clientSecret);
        }),
      ),
    );
}
