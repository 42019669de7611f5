/**
 * The response engine's controls at the command line: `cordon automation status|pause|resume|cap|
 * reset-breaker` (the kill switch and the blast-radius breaker) and `cordon sources create|list|disable`
 * (detection sources). One body each, the API's (cli/remote.ts).
 */
import type { Command } from 'commander';
import type { automationView } from '../http/views/automation.js';
import type { sourceView } from '../http/views/signals.js';
import { DURATION, durationSeconds } from '../response/playbook.js';
import { INTAKE_FORMATS } from '../response/intake/signal.js';
import type { NewSource } from '../response/sources.js';
import type { SignalFormat, SourceAuth } from '../storage/schema.js';
import { personOf, printJson, printList, printTable, usageError, type CliIo } from './io.js';
import { restorePolicyCommand } from './restore-policy.js';
import { ACCOUNT_HELP, accountPath, type Run, runAdmin } from './remote.js';

type AutomationJson = Awaited<ReturnType<typeof automationView>>;
type SourceJson = ReturnType<typeof sourceView>;
interface AutomationChange {
  method: 'POST' | 'PUT';
  path: string;
  body?: unknown;
}

function printAutomation(io: CliIo, json: boolean | undefined, a: AutomationJson): void {
  if (json) return printJson(io, a);
  const by = a.paused_by ?? '';
  const pausedBy = a.people[by.replace(/^user:/, '')] ? personOf(a.people, by.replace(/^user:/, '')) : by;
  const state = a.paused
    ? `PAUSED since ${a.pause_time} by ${pausedBy}${a.pause_reason ? ` (${a.pause_reason})` : ''}`
    : 'running';
  io.stdout.write(`automation: ${state}\n`);
  io.stdout.write(`breaker cap: ${a.breaker_cap.max_actions} suspensions per ${a.breaker_cap.window_seconds} s\n`);
  if (a.tripped_breakers.length === 0) return void io.stdout.write('tripped breakers: none\n');
  printTable(
    io,
    ['Tripped breaker', 'Since', 'Cap', 'Held back'],
    a.tripped_breakers.map((b) => [
      b.scope,
      b.trip_time,
      `${b.max_actions}/${b.window_seconds}s`,
      b.held_user_ids.length === 0 ? 'nobody' : b.held_user_ids.map((id) => personOf(a.people, id)).join(', '),
    ]),
  );
}

/**
 * What `sources create` prints: the full URL to give the SIEM (the server's public URL, CORDON_ISSUER; a
 * url_token source's URL with its token), how it authenticates, and the guide to follow.
 */
export function createdSourceText({ source, secret }: { source: SourceJson; secret?: string }): string {
  const lines = [`source ${source.id} (${source.name}: ${source.format}, ${source.auth})`];
  if (source.auth === 'url_token' && secret) {
    lines.push(`  URL: ${source.url}?token=${secret}`, '  The URL holds the token: it is shown only now.');
  } else {
    lines.push(`  URL: ${source.url}`);
    if (source.auth === 'hmac' && secret)
      lines.push(
        `  HMAC secret: ${secret}`,
        '  It is shown only now. Sign each request: X-Cordon-Timestamp (Unix seconds) and',
        '  X-Cordon-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>.',
      );
    if (source.auth === 'oauth')
      lines.push(`  Authorization: Bearer <an access token of ${source.client_id ?? 'an app'} holding signals:write>`);
  }
  lines.push(
    `  Default confidence: ${source.default_confidence} (for its alerts that carry none)`,
    `  Guide: docs/siem/${source.format}.md`,
  );
  return lines.join('\n') + '\n';
}

export function automationCommand(program: Command, io: CliIo, run: Run): void {
  const automation = program
    .command('automation')
    .description('The kill switch and the blast-radius breaker of the response engine');
  /**
   * Runs `change` (if any: a POST/PUT to the path under …/automation, which answers the state), then prints the state.
   */
  const show = (opts: { account?: string; json?: boolean }, command: string, change?: AutomationChange) =>
    run(async () => {
      const view = await runAdmin(io, command, opts.account, (api, accountId) =>
        change
          ? api.call<AutomationJson>(
              change.method,
              `${accountPath(accountId)}/automation${change.path}`,
              change.body ?? {},
            )
          : api.call<AutomationJson>('GET', `${accountPath(accountId)}/automation`),
      );
      printAutomation(io, opts.json, view);
    });

  automation
    .command('status')
    .description('Paused or running, the breaker cap, tripped breakers')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((opts: { account?: string; json?: boolean }) => show(opts, 'automation status'));
  for (const [verb, description] of [
    ['pause', 'Kill switch: from now on no plan executes on its own; each waits for approval'],
    ['resume', 'Let auto-mode playbooks execute again'],
  ] as const) {
    automation
      .command(verb)
      .description(description)
      .option('--reason <text>', 'why (kept in the audit entry)')
      .option('--account <id>', ACCOUNT_HELP)
      .option('--json', 'print JSON')
      .action((opts: { reason?: string; account?: string; json?: boolean }) =>
        show(opts, `automation ${verb}`, {
          method: 'POST',
          path: `:${verb}`,
          body: opts.reason ? { reason: opts.reason } : {},
        }),
      );
  }
  automation
    .command('cap')
    .description("Set the account's blast-radius cap: at most MAX executed suspensions in any WINDOW")
    .requiredOption('--max <n>', 'suspensions (1..10000)')
    .requiredOption('--window <duration>', 'sliding window, e.g. 10m, 1h')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((opts: { max: string; window: string; account?: string; json?: boolean }) => {
      const max = Number(opts.max);
      if (!Number.isInteger(max) || max < 1 || max > 10_000)
        return run(async () => {
          throw usageError('--max must be an integer from 1 to 10000');
        });
      if (!new RegExp(DURATION).test(opts.window))
        return run(async () => {
          throw usageError('--window must be a duration such as 30s, 10m, 4h, 7d');
        });
      const cap = { max_actions: max, window_seconds: durationSeconds(opts.window) };
      return show(opts, 'automation cap', { method: 'PUT', path: '/breaker', body: cap });
    });
  automation
    .command('reset-breaker')
    .description(
      'Reset tripped breakers (all, or one scope such as account or playbook:NAME); the audit entry lists whom they ' +
        'held back',
    )
    .option('--scope <scope>', 'one breaker')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((opts: { scope?: string; account?: string; json?: boolean }) =>
      show(opts, 'automation reset-breaker', {
        method: 'POST',
        path: ':resetBreaker',
        body: opts.scope ? { scope: opts.scope } : {},
      }),
    );

  restorePolicyCommand(automation, io, run);

  const sources = program
    .command('sources')
    .description('Detection sources: where signals come from and how each authenticates');
  sources
    .command('create')
    .description('Register a source; an hmac secret or URL token is printed once')
    .requiredOption('--name <name>', 'a name')
    .requiredOption('--format <format>', INTAKE_FORMATS.join(' | '))
    .requiredOption('--auth <auth>', 'oauth | hmac | url_token')
    .option('--client-id <id>', 'oauth only: the one app allowed to post to it')
    .option('--default-confidence <0..1>', "confidence of its alerts that carry none (default: the format's, 0.5)")
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action(
      (opts: {
        name: string;
        format: string;
        auth: string;
        clientId?: string;
        defaultConfidence?: string;
        account?: string;
        json?: boolean;
      }) =>
        run(async () => {
          if (!INTAKE_FORMATS.includes(opts.format as SignalFormat))
            throw usageError(`--format must be one of ${INTAKE_FORMATS.join(', ')}`);
          if (!['oauth', 'hmac', 'url_token'].includes(opts.auth))
            throw usageError('--auth must be oauth, hmac or url_token');
          const confidence = opts.defaultConfidence === undefined ? undefined : Number(opts.defaultConfidence);
          if (confidence !== undefined && !(/^\d*\.?\d+$/.test(opts.defaultConfidence!) && confidence <= 1))
            throw usageError('--default-confidence must be a number from 0 to 1');
          const input: NewSource = {
            name: opts.name,
            format: opts.format as SignalFormat,
            auth: opts.auth as SourceAuth,
            ...(opts.clientId ? { client_id: opts.clientId } : {}),
            ...(confidence === undefined ? {} : { default_confidence: confidence }),
          };
          const created = await runAdmin(io, 'sources create', opts.account, (api, accountId) =>
            api.call<{ source: SourceJson; secret?: string }>('POST', `${accountPath(accountId)}/sources`, input),
          );
          if (opts.json) return printJson(io, created);
          io.stdout.write(createdSourceText(created));
        }),
    );
  sources
    .command('list')
    .description('Detection sources')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const list = await runAdmin(
          io,
          'sources list',
          opts.account,
          async (api, accountId) =>
            (await api.call<{ sources: SourceJson[] }>('GET', `${accountPath(accountId)}/sources`)).sources,
        );
        if (opts.json) return printList(io, list);
        printTable(
          io,
          ['ID', 'Name', 'Format', 'Auth', 'Disabled'],
          list.map((s) => [s.id, s.name, s.format, s.auth, s.disable_time ?? '']),
          'no sources',
        );
      }),
    );
  sources
    .command('disable <source>')
    .description('Disable a source: its credentials stop working at once')
    .option('--account <id>', ACCOUNT_HELP)
    .action((id: string, opts: { account?: string }) =>
      run(async () => {
        const source = await runAdmin(io, 'sources disable', opts.account, (api, accountId) =>
          api.call<SourceJson>('POST', `${accountPath(accountId)}/sources/${encodeURIComponent(id)}:disable`),
        );
        io.stdout.write(`source ${source.id} disabled\n`);
      }),
    );
}
