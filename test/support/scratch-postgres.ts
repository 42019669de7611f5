/**
 * A PostgreSQL server of the test's own (initdb into a temporary directory, pg_ctl on a free port), for
 * tests that stop and start the database under Cordon. The machine's shared server is never touched.
 * As root, the binaries run as the `postgres` OS user (PostgreSQL refuses to run as root).
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** The directory holding initdb and pg_ctl: PG_BIN, else the newest /usr/lib/postgresql/N/bin; undefined when none. */
export function findPostgresBin(): string | undefined {
  const candidates = process.env.PG_BIN
    ? [process.env.PG_BIN]
    : listVersionDirs('/usr/lib/postgresql').map((v) => `/usr/lib/postgresql/${v}/bin`);
  return candidates.find((dir) => existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'pg_ctl')));
}

function listVersionDirs(root: string): string[] {
  try {
    return readdirSync(root)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
  } catch {
    return [];
  }
}

export type StopMode = 'fast' | 'immediate';

export interface ScratchPostgres {
  /** Connection URL of the `postgres` database (trust auth, user postgres). */
  url: string;
  /** `pg_ctl stop -m MODE`, waiting until the server is gone. */
  stop(mode: StopMode): Promise<void>;
  /** `pg_ctl start` without waiting: the caller watches for the server to accept connections. */
  start(): Promise<void>;
  /** Stops the server (immediate) and deletes its directory. */
  destroy(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startScratchPostgres(bin: string): Promise<ScratchPostgres> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cordon-scratch-pg-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    chownSync(dir, Number(stdout.trim()), -1);
  }
  const tool = (name: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', path.join(bin, name), ...args]) : run(path.join(bin, name), args);
  const data = path.join(dir, 'data');
  await tool('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const port = await freePort();
  // fsync off: a stopped server's WAL stays in the OS page cache, which a PostgreSQL restart (unlike a
  // machine crash) keeps, so commits stay durable across `-m immediate`; and crash recovery takes 0.1 s
  // instead of seconds of fsyncs on a busy machine. What is tested is Cordon acknowledging only what committed.
  const options =
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=60 -c shared_buffers=16MB ` + `-c fsync=off`;
  const start = () =>
    tool('pg_ctl', ['-D', data, '-l', path.join(dir, 'server.log'), '-o', options, '-W', 'start']).then(
      () => undefined,
    );
  const stop = (mode: StopMode) => tool('pg_ctl', ['-D', data, '-m', mode, '-w', 'stop']).then(() => undefined);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await start();
  await waitUntilAccepting(url);
  return {
    url,
    start,
    stop,
    async destroy() {
      await stop('immediate').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls until a connection succeeds; resolves with the moment it did (performance.now()). */
export async function waitUntilAccepting(url: string, timeoutMs = 30_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      const at = performance.now();
      await client.end();
      return at;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (performance.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}
