/**
 * `cordon login`, `logout`, `whoami` and `passwd`: a person signs in to a running server (password +
 * TOTP) and the CLI keeps the session token in CORDON_CLI_SESSION_FILE (0600), which admin commands then
 * use. A generated password must be changed (`passwd`) before the session may do anything else.
 */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { listenUrl } from '../config.js';
import { servingUrl } from '../storage/lock-file.js';
import { readConfig } from './context.js';
import { printJson, usageError, type CliIo } from './io.js';
import { ApiClient, forgetSession, readSavedSession, saveSession, type SavedSession } from './remote.js';

interface SignedInBody {
  session_token: string;
  account_id: string;
  expire_time: string;
  user: { email: string; role: string };
  password_change_required: boolean;
}

const CHANGE_FIRST = 'Your password was generated: change it before anything else with `npx cordon passwd`.';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  return text.replace(/\r?\n$/, '');
}

/**
 * Asks on the terminal, on standard error; `hidden` answers are not echoed. readline writes the question
 * itself: a question written before it would be erased when readline redraws its (empty) prompt line,
 * which is why the TOTP code's question used not to show.
 */
export function ask(io: CliIo, question: string, hidden: boolean, flag?: string): Promise<string> {
  const stdin = io.stdin ?? process.stdin;
  if (!stdin.isTTY)
    return Promise.reject(
      usageError(`${question.replace(/: $/, '')} is required (no terminal to ask on${flag ? `: pass ${flag}` : ''})`),
    );
  let muted = false;
  // `done` at once: every chunk readline writes goes out (or is dropped) in order, synchronously.
  const output = new Writable({
    write: (chunk: Buffer, _enc, done) => {
      if (!muted) io.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: stdin, output, terminal: true });
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close();
      if (hidden) io.stderr.write('\n');
      resolve(answer);
    });
    muted = hidden; // the question is out; the answer is not echoed
  });
}

/** The server to sign in to: --server, the one holding the embedded data dir, or CORDON_LISTEN's address. */
function defaultServer(io: CliIo): string {
  const { config } = readConfig(io);
  const held = config.databaseUrl ? undefined : servingUrl(config.dataDir);
  return held ?? listenUrl(config);
}

export function loginCommand(program: Command, io: CliIo, run: (fn: () => Promise<void>) => Promise<void>): void {
  program
    .command('login')
    .description('Sign in to a Cordon server (password + TOTP); admin commands then go through its API')
    .option('--email <email>', 'your email (default: ask)')
    .option('--server <url>', 'server URL (default: the server holding the data dir, or CORDON_LISTEN)')
    .option('--account <id>', 'account id (needed when the server has several)')
    .option('--password-stdin', 'read the password from standard input instead of asking (then pass --totp too)')
    .option('--totp <code>', 'the 6-digit code of your authenticator (default: ask)')
    .option('--json', 'print JSON (never the token)')
    .action(
      (opts: {
        email?: string;
        server?: string;
        account?: string;
        passwordStdin?: boolean;
        totp?: string;
        json?: boolean;
      }) =>
        run(async () => {
          const server = (opts.server ?? defaultServer(io)).replace(/\/$/, '');
          // Every value not given is asked for, in this order; with --password-stdin there is no terminal left.
          const email = opts.email ?? (await ask(io, 'Email: ', false, '--email'));
          const password = opts.passwordStdin
            ? await readAll(io.stdin ?? process.stdin)
            : await ask(io, 'Password: ', true, '--password-stdin');
          const totp = opts.totp ?? (opts.passwordStdin ? undefined : await ask(io, 'TOTP code: ', false, '--totp'));
          if (totp === undefined) throw usageError('TOTP code is required: with --password-stdin, pass --totp CODE');
          const body = await new ApiClient(server).call<SignedInBody>('POST', '/v1/auth/sessions', {
            email: email.trim(),
            password,
            totp: totp.trim(),
            kind: 'cli',
            ...(opts.account ? { account_id: opts.account } : {}),
          });
          const saved: SavedSession = {
            server,
            session_token: body.session_token,
            account_id: body.account_id,
            email: body.user.email,
            role: body.user.role,
            expire_time: body.expire_time,
          };
          const file = saveSession(io, saved);
          const { session_token: _token, ...shown } = saved;
          if (opts.json)
            printJson(io, { ...shown, session_file: file, password_change_required: body.password_change_required });
          else {
            io.stdout.write(
              `Signed in to ${server} as ${saved.email} (${saved.role}, account ${saved.account_id}) until ` +
                `${saved.expire_time}\n`,
            );
            if (body.password_change_required) io.stdout.write(`${CHANGE_FIRST}\n`);
          }
        }),
    );

  program
    .command('logout')
    .description('Sign out: revokes the saved session on the server and forgets it')
    .action(() =>
      run(async () => {
        const saved = readSavedSession(io);
        if (!saved) {
          io.stdout.write('Not signed in\n');
          return;
        }
        try {
          await new ApiClient(saved.server, saved.session_token).call('DELETE', '/v1/auth/sessions/current');
        } catch (error) {
          io.stderr.write(
            `cordon: the server did not confirm the sign-out (${(error as Error).message}); forgetting the session ` +
              `anyway\n`,
          );
        }
        forgetSession(io);
        io.stdout.write(`Signed out of ${saved.server}\n`);
      }),
    );

  program
    .command('whoami')
    .description('Show the signed-in session, as the server sees it')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) =>
      run(async () => {
        const saved = readSavedSession(io);
        if (!saved) throw usageError('not signed in: run `cordon login`');
        const current = await new ApiClient(saved.server, saved.session_token).call<
          Omit<SignedInBody, 'session_token'>
        >('GET', '/v1/auth/sessions/current');
        if (opts.json) printJson(io, { server: saved.server, ...current });
        else {
          io.stdout.write(
            `${current.user.email} (${current.user.role}) on ${saved.server}, account ${current.account_id}, until ` +
              `${current.expire_time}\n`,
          );
          if (current.password_change_required) io.stdout.write(`${CHANGE_FIRST}\n`);
        }
      }),
    );

  program
    .command('passwd')
    .description(
      'Change your password, through the server you signed in to (required after a generated one: init, ' +
        'reset-credentials, the demo)',
    )
    .option(
      '--password-stdin',
      'read the current password and then the new one from standard input, one a line, instead of asking',
    )
    .option('--json', 'print JSON (never a password)')
    .action((opts: { passwordStdin?: boolean; json?: boolean }) =>
      run(async () => {
        const saved = readSavedSession(io);
        if (!saved) throw usageError('not signed in: run `cordon login` first');
        let current: string;
        let chosen: string;
        if (opts.passwordStdin) {
          const lines = (await readAll(io.stdin ?? process.stdin)).split(/\r?\n/);
          if (lines.length !== 2)
            throw usageError('--password-stdin takes two lines: the current password, then the new one');
          [current, chosen] = lines as [string, string];
        } else {
          current = await ask(io, 'Current password: ', true);
          chosen = await ask(io, 'New password (at least 12 characters): ', true);
          if ((await ask(io, 'New password again: ', true)) !== chosen)
            throw usageError('the new passwords differ; nothing changed');
        }
        const changed = await new ApiClient(saved.server, saved.session_token).call<{ sessions_revoked: number }>(
          'POST',
          '/v1/auth/password',
          {
            current_password: current,
            new_password: chosen,
          },
        );
        if (opts.json)
          printJson(io, {
            email: saved.email,
            password_changed: true,
            other_sessions_revoked: changed.sessions_revoked,
          });
        else
          io.stdout.write(
            `Password changed for ${saved.email}; ${changed.sessions_revoked} other session(s) signed out. This ` +
              `session stays signed in.\n`,
          );
      }),
    );
}
