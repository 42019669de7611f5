/**
 * `cordon targets …`: the systems a containment acts on besides Cordon's directory (1Password, SCIM
 * apps, Global Token Revocation endpoints). Credentials come from a file or standard input (`-`), never
 * from the command line, and are never printed: the server seals them and never answers them.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Static } from 'typebox';
import type { HealthSchema, SyncResultSchema, targetView } from '../http/views/targets.js';
import { EXIT, printJson, printList, printTable, Reported, usageError, type CliIo } from './io.js';
import { ACCOUNT_HELP, accountPath, runAdmin, type Run } from './remote.js';

type TargetJson = ReturnType<typeof targetView>;
type Health = Static<typeof HealthSchema>;
type SyncResult = Static<typeof SyncResultSchema>;

const targetsPath = (accountId: string, target?: string) =>
  `${accountPath(accountId)}/targets${target === undefined ? '' : `/${encodeURIComponent(target)}`}`;

/** The config options of `targets add`, by the config member they set and the kinds they apply to. */
const CONFIG_OPTIONS = [
  { flag: '--base-url <url>', key: 'baseUrl', member: 'base_url', kinds: ['onepassword', 'scim'] },
  { flag: '--api-version <v>', key: 'apiVersion', member: 'api_version', kinds: ['onepassword'] },
  { flag: '--remote-account <id>', key: 'remoteAccount', member: 'account_id', kinds: ['onepassword'] },
  { flag: '--auth <method>', key: 'auth', member: 'auth', kinds: ['scim', 'gtr'] },
  { flag: '--token-url <url>', key: 'tokenUrl', member: 'token_url', kinds: ['scim'] },
  { flag: '--scope <scope>', key: 'scope', member: 'scope', kinds: ['scim'] },
  { flag: '--endpoint <url>', key: 'endpoint', member: 'endpoint', kinds: ['gtr'] },
  { flag: '--audience <aud>', key: 'audience', member: 'audience', kinds: ['gtr'] },
  { flag: '--subject-format <f>', key: 'subjectFormat', member: 'subject_format', kinds: ['gtr'] },
  { flag: '--issuer <iss>', key: 'issuer', member: 'issuer', kinds: ['gtr'] },
] as const;

const CONFIG_HELP: Record<(typeof CONFIG_OPTIONS)[number]['key'], string> = {
  baseUrl: 'onepassword: https://api.1password.com (.ca, .eu); scim: the SCIM base URL, …/scim/v2',
  apiVersion: 'onepassword: v1 (default) or v1beta1',
  remoteAccount: "onepassword: the 1Password account's id",
  auth: 'scim: bearer | oauth; gtr: jwt | bearer',
  tokenUrl: 'scim with --auth oauth: the token endpoint',
  scope: 'scim with --auth oauth: the scope to ask for',
  endpoint: 'gtr: the URL of the global-token-revocation endpoint',
  audience: 'gtr with --auth jwt: the JWT audience (default: the endpoint)',
  subjectFormat: 'gtr: email (default) | opaque | iss_sub',
  issuer: 'gtr with subject format iss_sub: the issuer of the subjects',
};

const SETTING_OPTIONS = [
  { flag: '--max-concurrency <n>', key: 'maxConcurrency', member: 'max_concurrency', help: 'steps at once (1-64)' },
  { flag: '--max-rate <n>', key: 'maxRate', member: 'max_rate_per_second', help: 'steps per second (1-10000)' },
  {
    flag: '--step-deadline <s>',
    key: 'stepDeadline',
    member: 'step_deadline_seconds',
    help: 'seconds a step may retry (10-604800)',
  },
  {
    flag: '--sync-interval <s>',
    key: 'syncInterval',
    member: 'sync_interval_seconds',
    help: 'seconds between syncs (60-604800)',
  },
] as const;

type Options = Record<string, string | boolean | undefined> & { account?: string; json?: boolean };

function settingsOf(opts: Options): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of SETTING_OPTIONS) {
    const value = opts[s.key];
    if (typeof value !== 'string') continue;
    if (!/^\d{1,9}$/.test(value)) throw usageError(`${s.flag.split(' ')[0]}: expected a positive integer`);
    out[s.member] = Number(value);
  }
  return out;
}

/** The credentials JSON from a file, or standard input for `-`. */
async function readCredentials(io: CliIo, source: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    if (source === '-') {
      text = '';
      for await (const chunk of io.stdin ?? process.stdin) text += String(chunk);
    } else text = readFileSync(source, 'utf8');
  } catch (error) {
    throw usageError(`--credentials: cannot read ${source}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw usageError(`--credentials: ${source === '-' ? 'standard input' : source} is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw usageError('--credentials: expected a JSON object, e.g. {"client_id": "…", "client_secret": "…"}');
  return parsed as Record<string, unknown>;
}

function printTargets(io: CliIo, targets: TargetJson[]): void {
  printTable(
    io,
    ['ID', 'Name', 'Kind', 'Enabled', 'Identities', 'Last sync', 'Sync error'],
    targets.map((t) => [
      t.id,
      t.name,
      t.kind,
      t.enabled ? 'yes' : 'no',
      t.identities,
      t.last_sync_time ?? 'never',
      t.last_sync_error ?? '',
    ]),
    'no targets',
  );
}

function printTarget(io: CliIo, t: TargetJson): void {
  printTargets(io, [t]);
  const lines = [
    `Config: ${JSON.stringify(t.config)}`,
    `Limits: ${t.max_concurrency} at once, ${t.max_rate_per_second}/s; a step retries for ${t.step_deadline_seconds} s`,
    `Sync: every ${t.sync_interval_seconds} s`,
    `Credentials: sealed; ${t.credentials_rotate_time ? `rotated ${t.credentials_rotate_time}` : 'never rotated'}`,
  ];
  io.stdout.write(`${lines.join('\n')}\n`);
}

const errorLine = (e: NonNullable<Health['error']>) =>
  `${e.class}: ${e.status ?? 'no answer'}${e.code ? ` ${e.code}` : ''} ${e.message}` +
  (e.request_id ? ` (request id ${e.request_id})` : '');

export function targetsCommand(program: Command, io: CliIo, run: Run): void {
  const targets = program
    .command('targets')
    .description('Targets: the systems containments act on besides Cordon (1Password, SCIM apps, GTR endpoints)');

  const add = targets
    .command('add <name>')
    .description('Connect a target; its credentials are sealed and never shown again')
    .requiredOption('--kind <kind>', 'onepassword | scim | gtr')
    .requiredOption('--credentials <file>', 'a JSON file of the credentials, or - for standard input');
  for (const o of CONFIG_OPTIONS) add.option(o.flag, CONFIG_HELP[o.key]);
  for (const s of SETTING_OPTIONS) add.option(s.flag, s.help);
  add
    .option('--disabled', 'connect it disabled')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((name: string, opts: Options & { kind: string; credentials: string }) =>
      run(async () => {
        const config: Record<string, string> = {};
        for (const o of CONFIG_OPTIONS) {
          const value = opts[o.key];
          if (typeof value !== 'string') continue;
          if (!(o.kinds as readonly string[]).includes(opts.kind))
            throw usageError(`${o.flag.split(' ')[0]} is for ${o.kinds.join(' and ')} targets`);
          config[o.member] = value;
        }
        const body = {
          name,
          kind: opts.kind,
          config,
          credentials: await readCredentials(io, opts.credentials),
          ...(opts.disabled ? { enabled: false } : {}),
          ...settingsOf(opts),
        };
        const created = await runAdmin(io, 'targets add', opts.account, (api, accountId) =>
          api.call<TargetJson>('POST', targetsPath(accountId), body),
        );
        if (opts.json) printJson(io, created);
        else printTarget(io, created);
      }),
    );

  targets
    .command('list')
    .description('List the targets of an account')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((opts: Options) =>
      run(async () => {
        const result = await runAdmin(io, 'targets list', opts.account, (api, accountId) =>
          api.call<{ targets: TargetJson[] }>('GET', targetsPath(accountId)),
        );
        if (opts.json) printList(io, result.targets);
        else printTargets(io, result.targets);
      }),
    );

  targets
    .command('show <target>')
    .description('Show one target (by id or name); never its credentials')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((target: string, opts: Options) =>
      run(async () => {
        const shown = await runAdmin(io, 'targets show', opts.account, (api, accountId) =>
          api.call<TargetJson>('GET', targetsPath(accountId, target)),
        );
        if (opts.json) printJson(io, shown);
        else printTarget(io, shown);
      }),
    );

  targets
    .command('test <target>')
    .description("Check the target's connectivity (1Password: a token and ListUsers); exits 1 when it fails")
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((target: string, opts: Options) =>
      run(async () => {
        const report = await runAdmin(io, 'targets test', opts.account, (api, accountId) =>
          api.call<Health>('POST', `${targetsPath(accountId, target)}:test`),
        );
        if (opts.json) printJson(io, report);
        else if (report.ok) io.stdout.write(`ok: ${target} answered in ${report.latency_ms} ms\n`);
        else io.stdout.write(`failed after ${report.latency_ms} ms: ${errorLine(report.error!)}\n`);
        if (!report.ok) throw new Reported(EXIT.FAILURE);
      }),
    );

  targets
    .command('sync <target>')
    .description("Mirror the target's users now (all of them, or one subject); exits 1 when the target fails")
    .option('--subject <email>', 'only this subject, by email')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((target: string, opts: Options) =>
      run(async () => {
        const body = typeof opts.subject === 'string' ? { subject: { email: opts.subject } } : {};
        const result = await runAdmin(io, 'targets sync', opts.account, (api, accountId) =>
          api.call<SyncResult>('POST', `${targetsPath(accountId, target)}:sync`, body),
        );
        if (opts.json) printJson(io, result);
        else if (result.ok)
          io.stdout.write(
            result.mode === 'full'
              ? `synced ${target}: ${result.seen} users in ${result.pages} pages, ${result.removed} gone\n`
              : `synced ${opts.subject as string} on ${target}: ${result.seen ? 'found' : 'not there'}` +
                  `${result.removed ? `, ${result.removed} mirrored identity removed` : ''}\n`,
          );
        else io.stdout.write(`sync failed: ${errorLine(result.error!)}\n`);
        if (!result.ok) throw new Reported(EXIT.FAILURE);
      }),
    );

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    targets
      .command(`${verb} <target>`)
      .description(enabled ? 'Enable a target: containments act on it again' : 'Disable a target: containments skip it')
      .option('--account <id>', ACCOUNT_HELP)
      .option('--json', 'print JSON')
      .action((target: string, opts: Options) =>
        run(async () => {
          const updated = await runAdmin(io, `targets ${verb}`, opts.account, (api, accountId) =>
            api.call<TargetJson>('PATCH', targetsPath(accountId, target), { enabled }),
          );
          if (opts.json) printJson(io, updated);
          else io.stdout.write(`${verb}d ${updated.name} (${updated.id})\n`);
        }),
      );
  }

  targets
    .command('rotate <target>')
    .description("Replace a target's credentials; the cached token of the old ones is dropped")
    .requiredOption('--credentials <file>', 'a JSON file of the new credentials, or - for standard input')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((target: string, opts: Options & { credentials: string }) =>
      run(async () => {
        const credentials = await readCredentials(io, opts.credentials);
        const updated = await runAdmin(io, 'targets rotate', opts.account, (api, accountId) =>
          api.call<TargetJson>('PATCH', targetsPath(accountId, target), { credentials }),
        );
        if (opts.json) printJson(io, updated);
        else io.stdout.write(`rotated the credentials of ${updated.name} (${updated.id})\n`);
      }),
    );

  targets
    .command('remove <target>')
    .description('Remove a target: its token is revoked and its mirror forgotten; its steps stay in the records')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((target: string, opts: Options) =>
      run(async () => {
        await runAdmin(io, 'targets remove', opts.account, (api, accountId) =>
          api.call<undefined>('DELETE', targetsPath(accountId, target)),
        );
        if (opts.json) printJson(io, { removed: target });
        else io.stdout.write(`removed ${target}\n`);
      }),
    );
}
