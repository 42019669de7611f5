/**
 * `cordon users`: list, get, suspend, reactivate, reset-credentials, import (and, from directory.ts,
 * create, update, delete, sessions). Each has one body, written against the HTTP API (cli/remote.ts).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { AppError, type ErrorCode } from '../errors.js';
import { describeCredentials } from './credentials.js';
import { EXIT, printJson, printList, printTable, Reported, usageError, type CliIo } from './io.js';
import { createProgress, type Progress } from './progress.js';
import { userAdminCommands, userIdOf } from './directory.js';
import { ACCOUNT_HELP, accountPath, runAdmin, type Api } from './remote.js';

/** A user as administrators see one (GET …/profiles, …/users/{user}/profile). */
interface UserRow {
  id: string;
  email: string;
  display_name: string;
  state: string;
  role: string;
  externally_managed: boolean;
  create_time: string;
  update_time: string;
  group_ids?: string[];
}

interface SessionRow {
  id: string;
  expire_time: string | null;
  revoke_time: string | null;
}

const userPath = (accountId: string, userId: string) => `${accountPath(accountId)}/users/${encodeURIComponent(userId)}`;

function printUsers(io: CliIo, users: UserRow[]): void {
  printTable(
    io,
    ['ID', 'Email', 'Name', 'State', 'Role', 'EAM'],
    users.map((u) => [u.id, u.email, u.display_name, u.state, u.role, u.externally_managed ? 'yes' : '']),
    'no users',
  );
}

/** The ids of the user's sessions that are live now. */
async function liveSessions(api: Api, accountId: string, userId: string): Promise<string[]> {
  const { sessions } = await api.call<{ sessions: SessionRow[] }>('GET', `${userPath(accountId, userId)}/sessions`);
  const now = new Date().toISOString();
  return sessions
    .filter((s) => s.revoke_time === null && (s.expire_time === null || s.expire_time > now))
    .map((s) => s.id);
}

/** The lines of a streamed answer. */
async function* linesOf(chunks: AsyncIterable<string>): AsyncGenerator<string> {
  let rest = '';
  for await (const chunk of chunks) {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop()!;
    for (const line of parts) if (line.trim() !== '') yield line;
  }
  if (rest.trim() !== '') yield rest;
}

type ImportEvent =
  | { type: 'progress'; done: number; total: number }
  | { type: 'done'; imported: number; seconds: number }
  | { type: 'error'; code: string; message: string; problems?: Array<{ line: number; problem: string }> };

export function usersCommand(program: Command, io: CliIo, run: (fn: () => Promise<void>) => Promise<void>): void {
  const users = program
    .command('users')
    .description('Users: list, inspect, suspend, reactivate, create, update, delete, import');

  users
    .command('list')
    .description('List the users of an account')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--state <state>', 'only ACTIVE or SUSPENDED users')
    .option('--limit <n>', 'most users to show', '1000')
    .option('--page-token <token>', 'go on from a listing cut by --limit (its next_page_token)')
    .option('--json', 'print JSON: {"items": [users], "next_page_token"?}')
    .action((opts: { account?: string; state?: string; limit: string; pageToken?: string; json?: boolean }) =>
      run(async () => {
        const state = opts.state?.toUpperCase();
        if (state !== undefined && state !== 'ACTIVE' && state !== 'SUSPENDED')
          throw usageError('--state must be ACTIVE or SUSPENDED');
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1) throw usageError('--limit must be a positive integer');
        const listed = await runAdmin(io, 'users list', opts.account, async (api, accountId) => {
          const found: UserRow[] = [];
          let after: string | undefined = opts.pageToken;
          while (found.length < limit) {
            const query = new URLSearchParams({
              max_page_size: String(Math.min(limit - found.length, 1000)),
              ...(state ? { state } : {}),
              ...(after ? { after } : {}),
            });
            const page = await api.call<{ users: UserRow[]; next_after?: string }>(
              'GET',
              `${accountPath(accountId)}/profiles?${query.toString()}`,
            );
            found.push(...page.users);
            if (!(after = page.next_after)) break;
          }
          return { users: found, next: after };
        });
        if (opts.json) printList(io, listed.users, listed.next);
        else printUsers(io, listed.users);
      }),
    );

  users
    .command('get <user>')
    .description('Show one user, by id or email: role, externally managed, groups')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((user: string, opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const found = await runAdmin(io, 'users get', opts.account, async (api, accountId) =>
          api.call<UserRow>('GET', `${userPath(accountId, await userIdOf(api, accountId, user))}/profile`),
        );
        if (opts.json) printJson(io, found);
        else printUsers(io, [found]);
      }),
    );

  for (const verb of ['suspend', 'reactivate'] as const) {
    users
      .command(`${verb} <user>`)
      .description(
        verb === 'suspend'
          ? 'Suspend a user and revoke their sessions (idempotent)'
          : 'Reactivate a suspended user (no session comes back)',
      )
      .option('--account <id>', ACCOUNT_HELP)
      .option('--reason <text>', 'why, recorded in the audit entry')
      .option('--json', 'print JSON')
      .action((user: string, opts: { account?: string; reason?: string; json?: boolean }) =>
        run(async () => {
          // Through the Users API; the state and the live sessions before say what changed.
          const result = await runAdmin(io, `users ${verb}`, opts.account, async (api, accountId) => {
            const path = userPath(accountId, await userIdOf(api, accountId, user));
            const before = await api.call<UserRow>('GET', `${path}/profile`);
            const live = await liveSessions(api, accountId, before.id);
            await api.call('POST', `${path}:${verb}`, opts.reason ? { reason: opts.reason } : undefined);
            const after = await api.call<UserRow>('GET', `${path}/profile`);
            const stillLive = new Set(live.length > 0 ? await liveSessions(api, accountId, before.id) : []);
            return {
              user: after,
              changed: before.state !== after.state,
              sessions_revoked: live.filter((id) => !stillLive.has(id)),
            };
          });
          if (opts.json) printJson(io, result);
          else {
            const revoked = result.sessions_revoked.length
              ? ` (${result.sessions_revoked.length} session(s) revoked)`
              : '';
            io.stdout.write(
              result.changed
                ? `${result.user.email} is now ${result.user.state}${revoked}\n`
                : `${result.user.email} was already ${result.user.state}; nothing changed\n`,
            );
          }
        }),
      );
  }

  users
    .command('reset-credentials <user>')
    .description(
      'Give a user a new generated password (to change at first sign-in) and TOTP seed, printed once, and end the ' +
        "user's sessions",
    )
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON: user_id, email, password, totp_secret, totp_uri')
    .action((user: string, opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const reset = await runAdmin(io, 'users reset-credentials', opts.account, async (api, accountId) =>
          api.call<{ user_id: string; email: string; password: string; totp_secret: string; totp_uri: string }>(
            'POST',
            `${userPath(accountId, await userIdOf(api, accountId, user))}:resetCredentials`,
          ),
        );
        if (opts.json) printJson(io, reset);
        else
          io.stdout.write(
            `New credentials for ${reset.email} (${reset.user_id}); their sessions are revoked.\n` +
              `${describeCredentials(reset.email, { password: reset.password, totpSecret: reset.totp_secret })}\n`,
          );
      }),
    );

  users
    .command('import <file>')
    .description(
      'Import users from JSONL or CSV (email, display_name, role, groups, externally_managed); all or nothing, also ' +
        'while a server runs',
    )
    .option('--account <id>', ACCOUNT_HELP)
    .option('--format <format>', 'jsonl or csv (default: from the file extension)')
    .option('--json', 'print JSON')
    .action((file: string, opts: { account?: string; format?: string; json?: boolean }) =>
      run(async () => {
        const format = (opts.format ?? (file.toLowerCase().endsWith('.csv') ? 'csv' : 'jsonl')).toLowerCase();
        if (format !== 'csv' && format !== 'jsonl') throw usageError('--format must be jsonl or csv');
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (error) {
          throw usageError(`cannot read ${file}: ${(error as Error).message}`);
        }
        await runAdmin(io, 'users import', opts.account, async (api, accountId) => {
          const answer = api.stream(`${accountPath(accountId)}/users:import?format=${format}`, {
            method: 'POST',
            body: text,
            contentType: format === 'csv' ? 'text/csv' : 'application/x-ndjson',
          });
          let progress: Progress | undefined;
          for await (const line of linesOf(answer)) {
            const event = JSON.parse(line) as ImportEvent;
            if (event.type === 'progress') {
              // Progress on standard error, always; the result alone on standard output.
              progress ??= createProgress(io.stderr, 'importing', event.total);
              if (event.done > 0) progress.update(event.done);
            } else if (event.type === 'done') {
              progress?.finish();
              if (opts.json) printJson(io, { account_id: accountId, imported: event.imported, seconds: event.seconds });
              else
                io.stdout.write(
                  `imported ${event.imported} users into ${accountId} in ${event.seconds.toFixed(1)} s\n`,
                );
              return;
            } else {
              progress?.finish();
              if (!event.problems) throw new AppError(event.code as ErrorCode, { description: event.message });
              if (opts.json)
                printJson(io, { error: { code: event.code, message: event.message }, problems: event.problems });
              else {
                // One line a row, with every problem of that row.
                const byLine = new Map<number, string[]>();
                for (const p of event.problems) byLine.set(p.line, [...(byLine.get(p.line) ?? []), p.problem]);
                const rows = [...byLine];
                io.stderr.write(`cordon: ${event.message}\n`);
                for (const [line, problems] of rows.slice(0, 100))
                  io.stderr.write(`  line ${line}: ${problems.join('; ')}\n`);
                if (rows.length > 100) io.stderr.write(`  … and ${rows.length - 100} more rows\n`);
              }
              throw new Reported(EXIT.USAGE);
            }
          }
          throw new AppError('UNAVAILABLE', {
            description: 'the import ended without an outcome: check `cordon users list` before trying again',
          });
        });
      }),
    );

  userAdminCommands(users, io, run);
}
