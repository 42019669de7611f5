import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

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

/** Runs `cordon ARGS` in a child process, with `input` on its standard input. */
export function runCli(args: string[], env: Record<string, string>, input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { env: { ...process.env, CORDON_LOG_LEVEL: 'warn', ...env }, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
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
    const child = spawn(process.execPath, [...cli, 'serve', ...args], { env: { ...process.env, CORDON_LOG_LEVEL: 'warn', CORDON_METRICS_LISTEN: '127.0.0.1:0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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
