/**
 * Running the CLI from a test. `runCli` calls `main(argv, io)` in the test's own process, with the
 * output captured and the environment given (a process start and the module loading are most of a
 * spawned command's 2 to 3 s); `spawnCli` runs it as a child process, for what only a process shows: its
 * exit code as the shell sees it, the data-dir lock held by another process, signals.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Readable, Writable } from 'node:stream';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Node arguments that run the CLI: the build the test run's global setup made (CORDON_TEST_CLI), or the
 * sources through tsx (benches, and a test file run without the setup).
 */
const CLI = process.env.CORDON_TEST_CLI ? [process.env.CORDON_TEST_CLI] : ['--import', 'tsx', 'src/cli/bin.ts'];

/** What a spawned CLI sees: this process's environment, quiet logs, then the test's own settings. */
const childEnv = (env: Record<string, string>): Record<string, string | undefined> => ({
  ...process.env,
  CORDON_LOG_LEVEL: 'warn',
  ...env,
});

/** A stream that collects what is written to it as text. */
function collector(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, done) {
      text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      done();
    },
  });
  return { stream, text: () => text };
}

/**
 * Runs `cordon ARGS` in this process, with `input` on its standard input (none: an empty one, as a
 * spawned command's /dev/null), and the environment a spawned command would have (see childEnv). Each
 * call builds its own program and io; a command that opens the database closes it before `main` returns.
 */
export async function runCli(args: string[], env: Record<string, string>, input?: string): Promise<CliResult> {
  const stdout = collector();
  const stderr = collector();
  const stdin = Readable.from(input === undefined ? [] : [input]);
  // Loaded on the first call: the benches use this file for startServer alone.
  const { main } = await import('../../src/cli/main.js');
  const code = await main(['node', 'cordon', ...args], {
    stdout: stdout.stream,
    stderr: stderr.stream,
    env: childEnv(env),
    stdin,
  });
  assertDataDirReleased(args, env);
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

/**
 * A command run in this process must have closed the core it opened by the time `main` returns: one
 * left open would keep the embedded data dir locked (and its workers running) under the next command.
 * The lock of a core the test itself holds (openTestCore's, holder `test`) is the test's business.
 */
function assertDataDirReleased(args: string[], env: Record<string, string>): void {
  const dataDir = env.CORDON_DATA_DIR;
  if (!dataDir) return;
  let holder: { pid?: number; holder?: string };
  try {
    holder = JSON.parse(readFileSync(path.join(dataDir, 'cordon.lock'), 'utf8')) as typeof holder;
  } catch {
    return; // no lock (or one being written by another process)
  }
  if (holder.pid === process.pid && holder.holder !== 'test')
    throw new Error(
      `cordon ${args.join(' ')} returned with ${dataDir} still locked by \`${holder.holder}\`: its core was not closed`,
    );
}

/** Runs `cordon ARGS` in a child process, with `input` on its standard input. */
export function spawnCli(args: string[], env: Record<string, string>, input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], {
      env: childEnv(env),
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (input !== undefined) child.stdin!.end(input);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts `cordon serve` and resolves with its URL once it prints it. */
export function startServer(
  env: Record<string, string>,
  args: string[] = ['--listen', '127.0.0.1:0'],
  cli: string[] = CLI,
): Promise<{ child: ChildProcess; url: string; output: string[] }> {
  return new Promise((resolve, reject) => {
    // A metrics listener on a free port: suites (and checkouts) run servers side by side.
    const child = spawn(process.execPath, [...cli, 'serve', ...args], {
      env: childEnv({ CORDON_METRICS_LISTEN: '127.0.0.1:0', ...env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    createInterface({ input: child.stdout }).on('line', (line) => {
      output.push(line);
      const match = /serving on (\S+)/.exec(line);
      if (match) resolve({ child, url: match[1]!, output });
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${output.join('\n')}\n${stderr}`)));
  });
}

export function stopServer(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.on('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}
