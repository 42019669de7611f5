/**
 * The migrated template a new embedded data directory starts as. The template here is the test run's
 * migrated dump (global-setup.ts) unpacked into a directory: what the build makes, without its initdb.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { openDatabase } from './db.js';
import { copyTemplate, currentMeta, listDirectories, usableTemplate, type TemplateMeta } from './pglite-template.js';

const root = mkdtempSync(path.join(tmpdir(), 'cordon-template-'));
const template = path.join(root, 'pglite-template');
const writeMeta = (meta: TemplateMeta) => writeFileSync(`${template}.json`, JSON.stringify(meta));

beforeAll(async () => {
  mkdirSync(template);
  const pglite = await PGlite.create(template, { loadDataDir: new Blob([readFileSync(inject('pgliteTemplate'))]) });
  await pglite.close();
  writeMeta(currentMeta());
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('usableTemplate', () => {
  it('takes a template of this PGlite whose migrations are this code’s or a prefix of them, and nothing else', () => {
    const meta = currentMeta();
    expect(usableTemplate(template)).toBe(template);
    try {
      writeMeta({ ...meta, migrations: meta.migrations.slice(0, 3) });
      expect(usableTemplate(template)).toBe(template);
      // Made by other code: a migration this code does not have, or in another order.
      writeMeta({ ...meta, migrations: [...meta.migrations, '9999-elsewhere'] });
      expect(usableTemplate(template)).toBeUndefined();
      writeMeta({ ...meta, migrations: [meta.migrations[1]!, meta.migrations[0]!] });
      expect(usableTemplate(template)).toBeUndefined();
      writeMeta({ ...meta, pglite: '0.0.1' });
      expect(usableTemplate(template)).toBeUndefined();
      writeFileSync(`${template}.json`, 'not json');
      expect(usableTemplate(template)).toBeUndefined();
      rmSync(`${template}.json`);
      expect(usableTemplate(template)).toBeUndefined();
      expect(usableTemplate(path.join(root, 'missing'))).toBeUndefined();
    } finally {
      writeMeta(meta);
    }
  });
});

describe('an embedded data directory', () => {
  it('starts as the template when it has no database, and is never overwritten by it after', async () => {
    const dataDir = path.join(root, 'data');
    const first = await openDatabase({ dataDir, holder: 'test', template });
    try {
      expect(first.opening.fromTemplate).toBe(true);
      const applied = await first.db
        .selectFrom('cordon_migrations' as never)
        .select(sql<string>`name`.as('name'))
        .orderBy(sql`name`)
        .execute();
      expect(applied.map((r) => r.name)).toEqual(currentMeta().migrations);
      await sql`CREATE TABLE marker (note text)`.execute(first.db);
      await sql`INSERT INTO marker VALUES ('written after the copy')`.execute(first.db);
    } finally {
      await first.close();
    }
    // Only the database, the lock's absence and no scratch copy left behind.
    expect(readdirSync(dataDir).filter((f) => f.startsWith('.template-') || f === 'cordon.lock')).toEqual([]);

    const again = await openDatabase({ dataDir, holder: 'test', template });
    try {
      expect(again.opening.fromTemplate).toBe(false);
      expect((await sql<{ note: string }>`SELECT note FROM marker`.execute(again.db)).rows).toEqual([
        { note: 'written after the copy' },
      ]);
    } finally {
      await again.close();
    }
  });

  it("is copied into only where there is no database, replacing a cut copy's pieces and keeping Cordon's files", () => {
    const dataDir = mkdtempSync(path.join(root, 'copy-'));
    writeFileSync(path.join(dataDir, 'kek'), 'kept');
    writeFileSync(path.join(dataDir, 'PG_VERSION'), '15\n');
    expect(copyTemplate(template, dataDir)).toBe(false);
    expect(readdirSync(dataDir).sort()).toEqual(['PG_VERSION', 'kek']);

    rmSync(path.join(dataDir, 'PG_VERSION'));
    // A copy cut short earlier left a piece behind: the next copy replaces it, and keeps what is Cordon's.
    mkdirSync(path.join(dataDir, 'base'));
    writeFileSync(path.join(dataDir, 'base', 'half-copied'), 'x');
    expect(copyTemplate(template, dataDir)).toBe(true);
    expect(existsSync(path.join(dataDir, 'base', 'half-copied'))).toBe(false);
    expect(readFileSync(path.join(dataDir, 'kek'), 'utf8')).toBe('kept');
    expect(readdirSync(dataDir).sort()).toEqual([...readdirSync(template), 'kek'].sort());
  });

  it('starts from a template as npm packs it, without its empty directories, which the copy makes again', async () => {
    // What `npm pack` keeps of the template: its files, and only the directories that hold one.
    const packed = path.join(root, 'packed');
    cpSync(template, packed, { recursive: true });
    const removeEmpty = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true }))
        if (entry.isDirectory()) removeEmpty(path.join(dir, entry.name));
      if (dir !== packed && readdirSync(dir).length === 0) rmSync(dir, { recursive: true });
    };
    removeEmpty(packed);
    const directories = listDirectories(template);
    expect(directories).toContain('pg_tblspc');
    expect(listDirectories(packed)).not.toContain('pg_tblspc');

    writeFileSync(`${packed}.json`, JSON.stringify({ ...currentMeta(), directories }));
    const dataDir = path.join(root, 'from-packed');
    const db = await openDatabase({ dataDir, holder: 'test', template: packed });
    try {
      expect(db.opening.fromTemplate).toBe(true);
      expect((await sql<{ one: number }>`SELECT 1 AS one`.execute(db.db)).rows).toEqual([{ one: 1 }]);
    } finally {
      await db.close();
    }
    expect(listDirectories(dataDir)).toEqual(expect.arrayContaining(directories));

    // Without the list, PostgreSQL refuses such a copy.
    writeFileSync(`${packed}.json`, JSON.stringify(currentMeta()));
    await expect(
      openDatabase({ dataDir: path.join(root, 'from-packed-bare'), holder: 'test', template: packed }),
    ).rejects.toThrow('service unavailable');
  });
});
