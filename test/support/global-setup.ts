/**
 * Once per run: initdb and the migrations (a PGlite data-dir dump that every test file loads, 0.6 s
 * instead of 5 s, and a PostgreSQL template database every test file clones), and a build of the CLI
 * into dist/ (what `npx cordon` runs), which the few tests that need a process of their own spawn (exit
 * codes, the data-dir lock, signals): a second a process faster than running the sources through tsx.
 * The build is scripts/build.js --if-stale, as `npm start` runs it: nothing when dist/ is newer than
 * every source (a tsc run is 20 s or more on a loaded machine, for one test file as for all).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrateToLatest } from '../../src/storage/db.js';
import { PGliteDialect } from '../../src/storage/pglite-dialect.js';
import type { Database } from '../../src/storage/schema.js';
import { BACKENDS, PG_SERVER_URL, PG_TEMPLATE } from './env.js';

export default async function setup(project: TestProject): Promise<() => void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cordon-test-'));
  const templateFile = path.join(dir, 'pglite-template.tar');
  const tasks: Promise<void>[] = [];
  if (BACKENDS.includes('pglite')) {
    tasks.push(
      (async () => {
        const pglite = await PGlite.create();
        const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
        await migrateToLatest(db);
        writeFileSync(templateFile, Buffer.from(await (await pglite.dumpDataDir('none')).arrayBuffer()));
        await db.destroy();
      })(),
    );
  }
  if (BACKENDS.includes('postgres')) {
    tasks.push(
      (async () => {
        const admin = new pg.Client({ connectionString: `${PG_SERVER_URL}/postgres` });
        await admin.connect();
        await admin.query(`DROP DATABASE IF EXISTS ${PG_TEMPLATE} WITH (FORCE)`);
        await admin.query(`CREATE DATABASE ${PG_TEMPLATE}`);
        await admin.end();
        const db = new Kysely<Database>({
          dialect: new PostgresDialect({
            pool: new pg.Pool({ connectionString: `${PG_SERVER_URL}/${PG_TEMPLATE}`, max: 1 }),
          }),
        });
        await migrateToLatest(db);
        await db.destroy();
      })(),
    );
  }
  tasks.push(
    (async () => {
      await promisify(execFile)(process.execPath, [path.resolve('scripts/build.js'), '--if-stale']);
      // Inherited by the test workers, which start after this setup (see test/support/cli.ts).
      process.env.CORDON_TEST_CLI = 'dist/cli/bin.js';
    })(),
  );
  await Promise.all(tasks);
  project.provide('pgliteTemplate', templateFile);
  return () => rmSync(dir, { recursive: true, force: true });
}
