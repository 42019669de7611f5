/**
 * The database factory: PGlite in a data directory by default, PostgreSQL through `pg` when
 * DATABASE_URL is set. Both speak the same PostgreSQL 15 SQL through one Kysely instance.
 */
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { AppError } from '../errors.js';
import { acquireDataDirLock, type DataDirLock } from './lock-file.js';
import { migrateToLatest } from './migrate.js';
import { copyTemplate, usableTemplate } from './pglite-template.js';
import { PGliteDialect } from './pglite-dialect.js';
import type { Database } from './schema.js';

export { migrateToLatest };

export type Backend = 'pglite' | 'postgres';

export interface DatabaseHandle {
  db: Kysely<Database>;
  backend: Backend;
  /** Set on the embedded backend: the exclusive lock on the data directory. */
  lock: DataDirLock | undefined;
  /** Where the opening's time went (the first start's banner reports it). */
  opening: DatabaseOpening;
  close(): Promise<void>;
}

export interface DatabaseOpening {
  /**
   * PGlite: the template copy (or initdb) and the start of the engine; PostgreSQL: nothing yet (the pool connects
   * lazily).
   */
  openMs: number;
  migrateMs: number;
  /** Whether an empty data directory started as the build's migrated template. */
  fromTemplate: boolean;
}

export interface OpenDatabaseOptions {
  /** Embedded data directory (ignored when `databaseUrl` is set). */
  dataDir: string;
  databaseUrl?: string | undefined;
  pgPoolMax?: number;
  /** How long a call waits for a PostgreSQL connection (a new one, or a free one of the pool) before failing. */
  pgConnectTimeoutMs?: number;
  /** Who holds the embedded data dir while open: `serve`, or the CLI command's name. */
  holder: string;
  /** Test support: a PGlite data dir dump to start from instead of running initdb. */
  loadDataDir?: Blob;
  /**
   * The migrated data directory an empty embedded data dir starts as (see pglite-template.ts): by default
   * the build's, when it suits this code; false for none (initdb).
   */
  template?: string | false;
  /** Run migrations (default true). */
  migrate?: boolean;
}

const INT8_OID = 20;

export async function openDatabase(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  const started = performance.now();
  const handle = options.databaseUrl
    ? await openPostgres(options.databaseUrl, options.pgPoolMax ?? 20, options.pgConnectTimeoutMs ?? 10_000)
    : await openPGlite(options);
  handle.opening.openMs = Math.round(performance.now() - started);
  if (options.migrate !== false) {
    try {
      await migrateToLatest(handle.db);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }
  handle.opening.migrateMs = Math.round(performance.now() - started) - handle.opening.openMs;
  return handle;
}

/** pg is loaded here, when a DATABASE_URL asks for it: an embedded CLI command does not load it. */
async function openPostgres(url: string, max: number, connectTimeoutMs: number): Promise<DatabaseHandle> {
  const [{ default: pg }, { PreparingClient }] = await Promise.all([import('pg'), import('./pg-statement-cache.js')]);
  const pool = new pg.Pool({
    Client: PreparingClient,
    connectionString: url,
    max,
    // When PostgreSQL cannot be reached, calls fail (503) after this instead of queueing without end.
    connectionTimeoutMillis: connectTimeoutMs,
    // A connection whose peer vanished (a host gone, not a refused port) is noticed by the OS, not never.
    keepAlive: true,
    // Counts and audit indexes stay far below 2^53; PGlite returns int8 as numbers too.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID
          ? (value: string) => Number(value)
          : (pg.types.getTypeParser(oid, format) as (value: string) => unknown)) as typeof pg.types.getTypeParser,
    },
  });
  // A client that loses its connection (PostgreSQL restarted: 57P01 on `pg_ctl stop -m fast`, or the
  // socket closed) emits 'error'. The pool listens only while a client is idle; one checked out, between
  // the statements of a transaction, had no listener, and Node ends the process on an unheard 'error'.
  // Every client gets its own listener: the query in flight (if any) fails with the error anyway, the
  // client is no longer queryable, and the pool discards it when it is released.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    backend: 'postgres',
    lock: undefined,
    opening: { openMs: 0, migrateMs: 0, fromTemplate: false },
    close: () => db.destroy(),
  };
}

async function openPGlite(options: OpenDatabaseOptions): Promise<DatabaseHandle> {
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const lock = acquireDataDirLock(options.dataDir, options.holder);
  let pglite: PGlite;
  let fromTemplate: boolean;
  try {
    const template =
      options.loadDataDir || options.template === false ? undefined : (options.template ?? usableTemplate());
    fromTemplate = template !== undefined && copyTemplate(template, options.dataDir);
    pglite = await PGlite.create(options.dataDir, options.loadDataDir ? { loadDataDir: options.loadDataDir } : {});
  } catch (error) {
    lock.release();
    throw new AppError('UNAVAILABLE', {
      detail: `cannot open the embedded database in ${options.dataDir}`,
      cause: error,
    });
  }
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  // PGlite has no autovacuum, so nothing would ever give the planner statistics: a table that grew
  // fast stays "empty" to it, and a join over it can go quadratic. Analyze now and then instead.
  let analyzing: Promise<unknown> | undefined;
  const analyze = setInterval(() => {
    analyzing ??= sql`ANALYZE`
      .execute(db)
      .catch(() => undefined)
      .finally(() => (analyzing = undefined));
  }, ANALYZE_EVERY_MS).unref();
  return {
    db,
    backend: 'pglite',
    lock,
    opening: { openMs: 0, migrateMs: 0, fromTemplate },
    close: async () => {
      clearInterval(analyze);
      try {
        await analyzing;
        await db.destroy();
      } finally {
        lock.release();
      }
    },
  };
}

const ANALYZE_EVERY_MS = 5 * 60_000;
