/**
 * `cordon webhooks …`: an account's webhook subscriptions (notifications of plans, containments and the
 * automation's brakes). `add` prints the signing secret once; nothing shows it again.
 */
import type { Command } from 'commander';
import type { deliveryView, webhookView } from '../http/views/webhooks.js';
import { EVENT_MEANINGS, WEBHOOK_EVENTS } from '../notify/events.js';
import { printJson, printList, printTable, usageError, type CliIo } from './io.js';
import { ACCOUNT_HELP, accountPath, runAdmin, type Run } from './remote.js';

type WebhookJson = ReturnType<typeof webhookView>;
type DeliveryJson = ReturnType<typeof deliveryView>;
type Options = { account?: string; json?: boolean };

const webhooksPath = (accountId: string, webhook?: string) =>
  `${accountPath(accountId)}/webhooks${webhook === undefined ? '' : `/${encodeURIComponent(webhook)}`}`;

const EVENTS_HELP = `comma-separated events: ${WEBHOOK_EVENTS.join(', ')}`;

function printWebhooks(io: CliIo, webhooks: WebhookJson[]): void {
  printTable(
    io,
    ['ID', 'URL', 'Format', 'Enabled', 'Events', 'Failures'],
    webhooks.map((w) => [
      w.id,
      w.url,
      w.format,
      w.enabled ? 'yes' : `no: ${w.disabled_reason ?? ''}`,
      w.events.join(', '),
      w.consecutive_failures,
    ]),
    'no webhooks',
  );
}

function printDeliveries(io: CliIo, deliveries: DeliveryJson[]): void {
  const rows = deliveries.flatMap((d) => [
    [d.create_time, d.event, d.message_id, d.state, d.attempts, d.last_error ?? ''],
    ...d.attempt_log.map((a) => [
      `  #${a.attempt} ${a.time}`,
      '',
      '',
      a.status_code ?? 'no answer',
      `${a.latency_ms} ms`,
      a.error ?? '',
    ]),
  ]);
  printTable(
    io,
    ['Time', 'Event', 'webhook-id', 'State / status', 'Attempts / latency', 'Error'],
    rows,
    'no deliveries yet',
  );
}

export function webhooksCommand(program: Command, io: CliIo, run: Run): void {
  const webhooks = program
    .command('webhooks')
    .description('Webhooks: signed notifications of plans, containments and the automation (Standard Webhooks)')
    .addHelpText(
      'after',
      `\nEvents:\n${WEBHOOK_EVENTS.map((e) => `  ${e.padEnd(22)} ${EVENT_MEANINGS[e]}`).join('\n')}\n`,
    );

  webhooks
    .command('add <url>')
    .description('Subscribe a receiver to events; prints its signing secret (whsec_…), shown only this once')
    .requiredOption('--events <events>', EVENTS_HELP)
    .option('--format <format>', 'standard (Standard Webhooks JSON, default) | slack (incoming-webhook blocks)')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((url: string, opts: Options & { events: string; format?: string }) =>
      run(async () => {
        const events = opts.events
          .split(',')
          .map((e) => e.trim())
          .filter((e) => e !== '');
        if (events.length === 0) throw usageError(`--events: ${EVENTS_HELP}`);
        const body = { url, events, ...(opts.format ? { format: opts.format } : {}) };
        const created = await runAdmin(io, 'webhooks add', opts.account, (api, accountId) =>
          api.call<{ webhook: WebhookJson; secret: string }>('POST', webhooksPath(accountId), body),
        );
        if (opts.json) return printJson(io, created);
        printWebhooks(io, [created.webhook]);
        io.stdout.write(
          `Signing secret (shown only now; verify deliveries with it, e.g. the standardwebhooks package):\n` +
            `${created.secret}\n`,
        );
      }),
    );

  webhooks
    .command('list')
    .description("List the account's webhook subscriptions")
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((opts: Options) =>
      run(async () => {
        const result = await runAdmin(io, 'webhooks list', opts.account, (api, accountId) =>
          api.call<{ webhooks: WebhookJson[] }>('GET', webhooksPath(accountId)),
        );
        if (opts.json) printList(io, result.webhooks);
        else printWebhooks(io, result.webhooks);
      }),
    );

  webhooks
    .command('show <id>')
    .description('Show one subscription; never its secret')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((id: string, opts: Options) =>
      run(async () => {
        const shown = await runAdmin(io, 'webhooks show', opts.account, (api, accountId) =>
          api.call<WebhookJson>('GET', webhooksPath(accountId, id)),
        );
        if (opts.json) printJson(io, shown);
        else printWebhooks(io, [shown]);
      }),
    );

  webhooks
    .command('remove <id>')
    .description('Remove a subscription: its deliveries still to go are dropped')
    .option('--account <id>', ACCOUNT_HELP)
    .action((id: string, opts: Options) =>
      run(async () => {
        await runAdmin(io, 'webhooks remove', opts.account, (api, accountId) =>
          api.call('DELETE', webhooksPath(accountId, id)),
        );
        io.stdout.write(`removed webhook ${id}\n`);
      }),
    );

  webhooks
    .command('enable <id>')
    .description('Enable a subscription that repeated failures disabled; its failure count starts over')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((id: string, opts: Options) =>
      run(async () => {
        const updated = await runAdmin(io, 'webhooks enable', opts.account, (api, accountId) =>
          api.call<WebhookJson>('POST', `${webhooksPath(accountId, id)}:enable`),
        );
        if (opts.json) printJson(io, updated);
        else io.stdout.write(`enabled webhook ${updated.id}\n`);
      }),
    );

  webhooks
    .command('deliveries <id>')
    .description("A subscription's delivery log: its latest deliveries, newest first, with every attempt")
    .option('--limit <n>', 'how many deliveries (1-500, default 50)')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((id: string, opts: Options & { limit?: string }) =>
      run(async () => {
        if (opts.limit !== undefined && !/^\d{1,3}$/.test(opts.limit)) throw usageError('--limit: expected 1 to 500');
        const query = opts.limit ? `?page_size=${opts.limit}` : '';
        const result = await runAdmin(io, 'webhooks deliveries', opts.account, (api, accountId) =>
          api.call<{ deliveries: DeliveryJson[] }>('GET', `${webhooksPath(accountId, id)}/deliveries${query}`),
        );
        if (opts.json) printList(io, result.deliveries);
        else printDeliveries(io, result.deliveries);
      }),
    );
}
