import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { importUsers, ImportRejected, parseImport } from '../directory/import.js';
import { userView } from '../http/views/directory.js';
import { getUser } from '../directory/users.js';
import { reactivateUser, suspendUser } from '../directory/user-state.js';
import { listUsers } from '../store/users.js';
import { resetCredentials } from '../directory/credentials.js';
import { credentialsView } from '../http/views/auth.js';
import { operatorContext, resolveAccount, withCore } from './context.js';
import { describeCredentials } from './credentials.js';
import { EXIT, printJson, printTable, Reported, usageError, type CliIo } from './io.js';
import { createProgress } from './progress.js';
import { userAdminCommands } from './directory.js';
import { ACCOUNT_HELP, runAdmin } from './remote.js';

/** A user as the CLI shows one: the full row directly, the Users API's fields through a server. */
type UserRow = Pick<ReturnType<typeof userView>, 'id' | 'email' | 'display_name' | 'state'> & Partial<ReturnType<typeof userView>>;

const usersPath = (accountId: string, userId?: string) => `/v1/accounts/${encodeURIComponent(accountId)}/users${userId === undefined ? '' : `/${encodeURIComponent(userId)}`}`;

function printUsers(io: CliIo, users: UserRow[]): void {
  printTable(
    io,
    ['ID', 'Email', 'Name', 'State', 'Role', 'EAM'],
    users.map((u) => [u.id, u.email, u.display_name, u.state, u.role ?? '', u.externally_managed ? 'yes' : '']),
  );
}

export function usersCommand(program: Command, io: CliIo, run: (fn: () => Promise<void>) => Promise<void>): void {
  const users = program.command('users').description('Users: list, inspect, suspend, reactivate, create, update, delete, import');

  users
    .command('list')
    .description('List the users of an account')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--state <state>', 'only ACTIVE or SUSPENDED users')
    .option('--limit <n>', 'most users to show', '1000')
    .option('--json', 'print JSON')
    .action((opts: { account?: string; state?: string; limit: string; json?: boolean }) =>
      run(async () => {
        const state = opts.state?.toUpperCase();
        if (state !== undefined && state !== 'ACTIVE' && state !== 'SUSPENDED') throw usageError('--state must be ACTIVE or SUSPENDED');
        const limit = Number(opts.limit);
        if (!Number.isInteger(limit) || limit < 1) throw usageError('--limit must be a positive integer');
        const listed = await runAdmin<{ accountId: string; users: UserRow[] }>(io, 'users list', opts.account, {
          direct: async (core, accountId) => ({ accountId, users: (await listUsers(core.database.db, { accountId, state, limit })).map(userView) }),
          // The Users API, a page at a time (it has no role or externally-managed columns).
          async api(client, accountId) {
            const found: UserRow[] = [];
            const filter = state === undefined ? '' : state === 'ACTIVE' ? 'user.isActive()' : 'user.isSuspended()';
            for (let token: string | undefined; found.length < limit; ) {
              const query = new URLSearchParams({ filter, max_page_size: String(Math.min(limit - found.length, 1000)), ...(token ? { page_token: token } : {}) });
              const page = await client.call<{ results: UserRow[]; next_page_token?: string }>('GET', `${usersPath(accountId)}?${query.toString()}`);
              found.push(...page.results);
              if (!(token = page.next_page_token)) break;
            }
            return { accountId, users: found };
          },
        });
        if (opts.json) printJson(io, { account_id: listed.accountId, users: listed.users });
        else printUsers(io, listed.users);
      }),
    );

  users
    .command('get <user>')
    .description('Show one user')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((userId: string, opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const user = await runAdmin<UserRow>(io, 'users get', opts.account, {
          direct: async (core, accountId) => userView(await getUser(core.directory, accountId, userId)),
          api: (client, accountId) => client.call('GET', `${usersPath(accountId, userId)}/profile`),
        });
        if (opts.json) printJson(io, user);
        else printUsers(io, [user]);
      }),
    );

  for (const [verb, service] of [
    ['suspend', suspendUser],
    ['reactivate', reactivateUser],
  ] as const) {
    users
      .command(`${verb} <user>`)
      .description(verb === 'suspend' ? 'Suspend a user and revoke their sessions (idempotent)' : 'Reactivate a suspended user (no session comes back)')
      .option('--account <id>', ACCOUNT_HELP)
      .option('--reason <text>', 'why, recorded in the audit entry')
      .option('--json', 'print JSON')
      .action((userId: string, opts: { account?: string; reason?: string; json?: boolean }) =>
        run(async () => {
          const result = await runAdmin<{ user: UserRow; changed: boolean; sessions_revoked?: string[] }>(io, `users ${verb}`, opts.account, {
            async direct(core, accountId) {
              const done = await service(core.directory, operatorContext(core, opts.reason), accountId, userId);
              return { user: userView(done.user), changed: done.changed, sessions_revoked: done.sessionsRevoked };
            },
            // Through the Users API, as the signed-in person; the state before says whether it changed.
            async api(client, accountId) {
              const before = await client.call<UserRow>('GET', usersPath(accountId, userId));
              const user = await client.call<UserRow>('POST', `${usersPath(accountId, userId)}:${verb}`, opts.reason ? { reason: opts.reason } : undefined);
              return { user, changed: before.state !== user.state };
            },
          });
          if (opts.json) printJson(io, result);
          else {
            const revoked = result.sessions_revoked?.length ? ` (${result.sessions_revoked.length} session(s) revoked)` : '';
            io.stdout.write(result.changed ? `${result.user.email} is now ${result.user.state}${revoked}\n` : `${result.user.email} was already ${result.user.state}; nothing changed\n`);
          }
        }),
      );
  }

  users
    .command('reset-credentials <user>')
    .description("Give a user a new generated password (to change at first sign-in) and TOTP seed, printed once, and end the user's sessions")
    .option('--account <id>', 'account id (default: the signed-in account, or the only one)')
    .option('--json', 'print JSON: user_id, email, password, totp_secret, totp_uri')
    .action((userId: string, opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const reset = await runAdmin<{ user_id: string; email: string } & ReturnType<typeof credentialsView>>(io, 'users reset-credentials', opts.account, {
          async direct(core, accountId) {
            const { user, credentials } = await resetCredentials(core.directory, operatorContext(core), accountId, userId);
            return { user_id: user.id, email: user.email, ...credentialsView(user.email, credentials) };
          },
          api: (client, accountId) => client.call('POST', `/v1/accounts/${encodeURIComponent(accountId)}/users/${encodeURIComponent(userId)}:resetCredentials`),
        });
        if (opts.json) printJson(io, reset);
        else io.stdout.write(`New credentials for ${reset.email} (${reset.user_id}); their sessions are revoked.\n${describeCredentials(reset.email, { password: reset.password, totpSecret: reset.totp_secret })}\n`);
      }),
    );

  users
    .command('import <file>')
    .description('Import users from JSONL or CSV (email, display_name, role, groups, externally_managed); all or nothing')
    .option('--account <id>', 'account id (default: the only account)')
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
        const parsed = parseImport(text, format);
        await withCore(io, 'users import', async (core) => {
          const accountId = await resolveAccount(core, opts.account);
          const progress = createProgress(opts.json ? io.stderr : io.stdout, 'importing', parsed.rows.length);
          try {
            const started = Date.now();
            const { imported } = await importUsers(core.directory, operatorContext(core), accountId, parsed, {
              onProgress: (done) => progress.update(done),
            });
            const seconds = (Date.now() - started) / 1000;
            if (opts.json) printJson(io, { account_id: accountId, imported, seconds });
            else progress.finish(`imported ${imported} users into ${accountId} in ${seconds.toFixed(1)} s`);
          } catch (error) {
            if (error instanceof ImportRejected) {
              if (opts.json) printJson(io, { error: { code: error.code, message: error.description }, problems: error.problems });
              else {
                io.stderr.write(`cordon: ${error.description}\n`);
                for (const p of error.problems.slice(0, 100)) io.stderr.write(`  line ${p.line}: ${p.problem}\n`);
                if (error.problems.length > 100) io.stderr.write(`  … and ${error.problems.length - 100} more\n`);
              }
            }
            throw error instanceof ImportRejected ? new Reported(EXIT.USAGE) : error;
          }
        });
      }),
    );

  userAdminCommands(users, io, run);
}
