/**
 * `cordon apps events-token APP`: an events token for an app holding audit:read (oauth/events-tokens.ts),
 * printed once; `apps events-tokens APP` lists them, `apps revoke-events-token APP TOKEN_ID` ends one.
 */
import type { Command } from 'commander';
import { printJson, printList, printTable, type CliIo } from './io.js';
import { ACCOUNT_HELP, runAdmin } from './remote.js';

interface EventsTokenJson {
  id: string;
  app_id: string;
  features: string[];
  audience: string;
  create_time: string;
  created_by: string | null;
  revoke_time: string | null;
  token?: string;
}

const tokensPath = (accountId: string, app: string) =>
  `/v1/accounts/${encodeURIComponent(accountId)}/apps/${encodeURIComponent(app)}/events-tokens`;

function printTokens(io: CliIo, tokens: EventsTokenJson[]): void {
  printTable(
    io,
    ['Token ID', 'Features', 'Audience', 'Made', 'Revoked'],
    tokens.map((t) => [t.id, t.features.join(' '), t.audience, t.create_time, t.revoke_time ?? '']),
    'no events tokens',
  );
}

export function eventsTokenCommands(apps: Command, io: CliIo, run: (fn: () => Promise<void>) => Promise<void>): void {
  apps
    .command('events-token <app>')
    .description(
      'Make an events token for an app holding audit:read: a long-lived bearer for the Events API feed ' +
        '(/api/v1|v2/auditevents, signinattempts, itemusages) in the JWT shape 1Password collectors read. Printed once',
    )
    .option('--features <list>', 'comma-separated: auditevents, signinattempts, itemusages (default: all)')
    .option('--audience <host>', 'the bare host collectors will call, https://<host> (default: the public URL’s host)')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON, with the token this once')
    .action((appId: string, opts: { features?: string; audience?: string; account?: string; json?: boolean }) =>
      run(async () => {
        const features = opts.features
          ?.split(',')
          .map((f) => f.trim())
          .filter(Boolean);
        const made = await runAdmin(io, 'apps events-token', opts.account, (api, accountId) =>
          api.call<EventsTokenJson>('POST', tokensPath(accountId, appId), {
            ...(features ? { features } : {}),
            ...(opts.audience ? { audience: opts.audience } : {}),
          }),
        );
        if (opts.json) return printJson(io, made);
        printTokens(io, [made]);
        io.stdout.write(
          `Events token: ${made.token}\n` +
            `Collectors call https://${made.audience}. Store the token now: it is shown once and kept only as a hash.\n`,
        );
      }),
    );

  apps
    .command('events-tokens <app>')
    .description("List an app's events tokens (never the tokens themselves)")
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((appId: string, opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const page = await runAdmin(io, 'apps events-tokens', opts.account, (api, accountId) =>
          api.call<{ items: EventsTokenJson[] }>('GET', tokensPath(accountId, appId)),
        );
        if (opts.json) printList(io, page.items);
        else printTokens(io, page.items);
      }),
    );

  apps
    .command('revoke-events-token <app> <token-id>')
    .description('Revoke an events token: it stops working from the next request (idempotent)')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((appId: string, tokenId: string, opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const { token, changed } = await runAdmin(io, 'apps revoke-events-token', opts.account, (api, accountId) =>
          api.call<{ token: EventsTokenJson; changed: boolean }>(
            'POST',
            `${tokensPath(accountId, appId)}/${encodeURIComponent(tokenId)}:revoke`,
          ),
        );
        if (opts.json) printJson(io, { token, changed });
        else io.stdout.write(changed ? `revoked events token ${token.id}\n` : `${token.id} was already revoked\n`);
      }),
    );
}
