/**
 * One CLI command on the embedded data: `cordon users list`, in a process of its own as an operator runs
 * it, against the floor of what it must do.
 *
 *   - direct: `node dist/cli/bin.js users list` on a data dir no server holds (the command opens PGlite),
 *   - server: the same command on a data dir a running `cordon serve` holds, after `cordon login` (the
 *     command calls the server's API),
 *   - floor: a bare `node -e` script that opens the direct side's data dir with @electric-sql/pglite and
 *     runs `SELECT count(*) FROM users`: the Node start and the PGlite start no direct command can skip.
 *
 * Both data dirs are made alike: `cordon init` and 28 imported users (the demo account's size). The three
 * sides alternate within each round so that the machine's load falls on all alike. Prints JSON with each
 * side's runs and median, and the ratios to the floor. Needs `npm run build`.
 *   npx tsx bench/cli.ts         (BENCH_RUNS=7, BENCH_CLI_BIN=dist/cli/bin.js)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { timeStep, totpCode } from '../src/directory/totp.js';
import { base32Decode } from '../src/base32.js';
import { startServer, stopServer } from '../test/support/cli.js';
import { round } from './support.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
/** The build to time (BENCH_CLI_BIN: another build's bin, to compare two). */
const BIN = path.resolve(process.env.BENCH_CLI_BIN ?? 'dist/cli/bin.js');
const USERS = 28;

/** Runs `node ARGS` to its end; its wall time in ms (a failure stops the bench). */
function timeNode(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve(performance.now() - started)
        : reject(new Error(`node ${args.join(' ')} exited ${code}: ${stderr}`)),
    );
  });
}

/** Runs the built `cordon ARGS` (the setup's steps); its standard output. */
function cli(args: string[], env: Record<string, string>, input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.end(input ?? '');
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`cordon ${args.join(' ')} exited ${code}: ${stderr}`)),
    );
  });
}

/** A data dir with an account (its owner's credentials returned) and USERS more people. */
async function makeDataDir(
  root: string,
  name: string,
): Promise<{ env: Record<string, string>; owner: { password: string; totp_secret: string } }> {
  const env = {
    CORDON_DATA_DIR: path.join(root, name),
    CORDON_DEMO: 'false',
    CORDON_LOG_LEVEL: 'warn',
    CORDON_CLI_SESSION_FILE: path.join(root, `${name}-session.json`),
  };
  const init = JSON.parse(
    await cli(['init', '--name', 'Bench Co', '--owner-email', 'owner@bench.example', '--json'], env),
  ) as { owner: { password: string; totp_secret: string } };
  const csv = path.join(root, `${name}-users.csv`);
  writeFileSync(
    csv,
    [
      'email,display_name,role,groups',
      ...Array.from(
        { length: USERS },
        (_, i) => `u${i}@bench.example,User ${i},${i < 3 ? 'admin' : 'member'},${i % 2 ? 'Engineering' : 'Security'}`,
      ),
    ].join('\n') + '\n',
  );
  await cli(['users', 'import', csv], env);
  return { env, owner: init.owner };
}

const median = (values: number[]) => round([...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!, 0);

const root = mkdtempSync(path.join(tmpdir(), 'cordon-bench-cli-'));
try {
  const direct = await makeDataDir(root, 'direct');
  const served = await makeDataDir(root, 'served');
  const server = await startServer(served.env, ['--listen', '127.0.0.1:0'], [BIN]);
  try {
    const code = totpCode(base32Decode(served.owner.totp_secret), timeStep(Date.now() / 1000));
    await cli(
      ['login', '--server', server.url, '--email', 'owner@bench.example', '--password-stdin', '--totp', code],
      served.env,
      `${served.owner.password}\n`,
    );
    await cli(['passwd', '--password-stdin'], served.env, `${served.owner.password}\nthe bench's own password\n`);
    // Both sides list the same people: a check that each goes where it should, before timing it.
    const listed = [
      await cli(['users', 'list', '--json'], direct.env),
      await cli(['users', 'list', '--json'], served.env),
    ].map((out) => (JSON.parse(out) as { users: unknown[] }).users.length);
    if (listed[0] !== USERS + 1 || listed[1] !== USERS + 1)
      throw new Error(`users list: ${listed.join(', ')} users, expected ${USERS + 1}`);

    const floorScript =
      `const { PGlite } = await import('@electric-sql/pglite'); const db = await PGlite.create(` +
      `${JSON.stringify(direct.env.CORDON_DATA_DIR)}); await db.query('SELECT count(*) FROM users'); await ` +
      `db.close();`;
    const sides = {
      direct: () => timeNode([BIN, 'users', 'list'], { ...process.env, ...direct.env }),
      server: () => timeNode([BIN, 'users', 'list'], { ...process.env, ...served.env }),
      floor: () => timeNode(['--input-type=module', '-e', floorScript], process.env),
    };
    const times: Record<keyof typeof sides, number[]> = { direct: [], server: [], floor: [] };
    const order = Object.keys(sides) as Array<keyof typeof sides>;
    for (let run = 0; run < RUNS; run++) {
      // Each round starts with another side, so that none is always the one after a quiet moment.
      for (let i = 0; i < order.length; i++) {
        const side = order[(run + i) % order.length]!;
        times[side].push(await sides[side]());
      }
    }
    const floor = median(times.floor);
    const results = Object.fromEntries(
      order.map((side) => [
        side,
        {
          runs_ms: times[side].map(Math.round),
          median_ms: median(times[side]),
          over_floor: round(median(times[side]) / floor, 2),
        },
      ]),
    );
    console.log(
      JSON.stringify({ bench: 'cli', node: process.version, runs: RUNS, users: USERS + 1, results }, null, 2),
    );
  } finally {
    await stopServer(server.child);
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
