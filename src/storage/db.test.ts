import { sql } from 'kysely';
import pg from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createTestDatabase, describeBackends, type TestDatabase } from '../../test/support/backends.js';
import { isDatabaseUnavailable } from '../store/errors.js';
import { openDatabase, type DatabaseHandle } from './db.js';

describeBackends('PostgreSQL connections that break', (backend) => {
  let database: TestDatabase;
  let handle: DatabaseHandle | undefined;
  beforeEach(async () => {
    database = await createTestDatabase(backend);
  });
  afterEach(async () => {
    await handle?.close();
    handle = undefined;
    await database.drop();
  });

  const open = async (options: { pgPoolMax?: number; pgConnectTimeoutMs?: number } = {}) =>
    (handle = await openDatabase({
      dataDir: '',
      databaseUrl: database.env.DATABASE_URL,
      holder: 'test',
      migrate: false,
      ...options,
    }));
  const backendPid = async (db: DatabaseHandle['db']) =>
    (await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(db)).rows[0]!.pid;

  /** Ends a backend as `pg_ctl stop -m fast` does (57P01 to its client), and waits until it is gone. */
  async function terminate(pid: number): Promise<void> {
    const admin = new pg.Client({ connectionString: database.env.DATABASE_URL });
    await admin.connect();
    try {
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      while ((await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount! > 0);
    } finally {
      await admin.end();
    }
    // The client reads the server's goodbye on its next turns of the event loop.
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  it.skipIf(backend !== 'postgres')(
    'survives PostgreSQL ending a connection a transaction holds between statements, and never reuses it',
    async () => {
      const { db } = await open({ pgPoolMax: 2 });
      let ended: number | undefined;
      const outcome = await db
        .transaction()
        .execute(async (trx) => {
          ended = await backendPid(trx);
          // No statement in flight: the error arrives as an 'error' event on the checked-out client, which
          // ended the process when nothing listened.
          await terminate(ended);
          await sql`SELECT 1`.execute(trx);
          return 'committed';
        })
        .catch((error: unknown) => error);
      expect(isDatabaseUnavailable(outcome)).toBe(true);
      // The broken client went away; the pool connects afresh.
      const pids = await Promise.all([backendPid(db), backendPid(db)]);
      expect(pids).not.toContain(ended);
    },
  );

  it.skipIf(backend !== 'postgres')(
    'fails a call that cannot get a connection within CORDON_PG_CONNECT_TIMEOUT_MS, as unavailable',
    async () => {
      const { db } = await open({ pgPoolMax: 1, pgConnectTimeoutMs: 200 });
      let release: () => void = () => undefined;
      let took: () => void = () => undefined;
      const taken = new Promise<void>((resolve) => (took = resolve));
      // The pool's one connection, held by a transaction.
      const holding = db.transaction().execute(async (trx) => {
        await sql`SELECT 1`.execute(trx);
        took();
        await new Promise<void>((resolve) => (release = resolve));
      });
      await taken;
      const waited = await sql`SELECT 1`.execute(db).catch((error: unknown) => error);
      expect(isDatabaseUnavailable(waited)).toBe(true);
      release();
      await holding;
      expect((await sql<{ one: number }>`SELECT 1 AS one`.execute(db)).rows).toEqual([{ one: 1 }]);
    },
  );
});
