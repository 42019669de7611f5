/**
 * A migrated PGlite data directory made at build time (dist/pglite-template/), copied into an empty data
 * directory on its first start instead of running initdb and every migration. initdb runs PostgreSQL's
 * bootstrap inside WebAssembly: 10 to 20 s on a loaded 2-core machine, most of a first start; copying
 * the template's 40 MB takes under a second.
 *
 * The template records the PGlite version and the migrations it was made with (pglite-template.json beside
 * it). It is used only with the same PGlite and when its migrations are a prefix of the running code's:
 * the migrations that follow run after the copy as on any start, so a template behind the code is still
 * right, while one made by other code (another branch, a newer checkout) is ignored and initdb runs.
 */
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { Kysely } from 'kysely';
import { migrateToLatest } from './migrate.js';
import { migrations } from './migrations/index.js';
import { PGliteDialect } from './pglite-dialect.js';
import type { Database } from './schema.js';

/** dist/pglite-template of the package: this file is src/storage/ or dist/storage/, two levels below its root. */
export const TEMPLATE_DIR = fileURLToPath(new URL('../../dist/pglite-template', import.meta.url));

export interface TemplateMeta {
  pglite: string;
  migrations: string[];
  /**
   * Every directory of the template, relative to it. A package (npm pack) keeps files, not empty
   * directories, and PostgreSQL does not start without pg_tblspc, pg_notify and the other directories
   * initdb made empty: the copy makes them again.
   */
  directories?: string[];
}

const metaFile = (template: string) => `${template}.json`;

function pgliteVersion(): string {
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  return (JSON.parse(readFileSync(path.join(path.dirname(entry), '..', 'package.json'), 'utf8')) as { version: string })
    .version;
}

/** What a template made by this code, with this PGlite, would record. */
export function currentMeta(): TemplateMeta {
  return { pglite: pgliteVersion(), migrations: Object.keys(migrations).sort() };
}

function readMeta(template: string): TemplateMeta | undefined {
  try {
    const meta = JSON.parse(readFileSync(metaFile(template), 'utf8')) as TemplateMeta;
    return typeof meta.pglite === 'string' && Array.isArray(meta.migrations) ? meta : undefined;
  } catch {
    return undefined;
  }
}

/** `template` when it exists, was made with this PGlite, and holds a prefix of this code's migrations. */
export function usableTemplate(template = TEMPLATE_DIR): string | undefined {
  const meta = readMeta(template);
  if (!meta || !existsSync(path.join(template, 'PG_VERSION'))) return undefined;
  const current = currentMeta();
  if (meta.pglite !== current.pglite || meta.migrations.length > current.migrations.length) return undefined;
  return meta.migrations.every((name, i) => name === current.migrations[i]) ? template : undefined;
}

/** Every directory under `dir`, relative to it, parents first. */
export function listDirectories(dir: string, under = ''): string[] {
  return readdirSync(path.join(dir, under), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => {
      const relative = path.posix.join(under, entry.name);
      return [relative, ...listDirectories(dir, relative)];
    })
    .sort();
}

/**
 * Makes the template (initdb and every migration) unless one for this PGlite and exactly these migrations
 * is there. Built beside the target and renamed into place, so a reader never sees half of one.
 */
export async function makeTemplate(template = TEMPLATE_DIR): Promise<'made' | 'current'> {
  const meta = currentMeta();
  const existing = readMeta(template);
  if (
    existing?.directories &&
    existsSync(path.join(template, 'PG_VERSION')) &&
    existing.pglite === meta.pglite &&
    JSON.stringify(existing.migrations) === JSON.stringify(meta.migrations)
  )
    return 'current';
  const building = mkdtempSync(`${template}.building-`);
  try {
    const db = new Kysely<Database>({ dialect: new PGliteDialect(await PGlite.create(building)) });
    try {
      await migrateToLatest(db);
    } finally {
      await db.destroy();
    }
    const made: TemplateMeta = { ...meta, directories: listDirectories(building) };
    rmSync(metaFile(template), { force: true });
    rmSync(template, { recursive: true, force: true });
    renameSync(building, template);
    writeFileSync(metaFile(template), JSON.stringify(made, null, 2) + '\n');
    return 'made';
  } finally {
    rmSync(building, { recursive: true, force: true });
  }
}

/** Whether an embedded data directory holds no database yet (its first start is to come). */
export function holdsNoDatabase(dataDir: string): boolean {
  return !existsSync(path.join(dataDir, 'PG_VERSION'));
}

/**
 * Copies `template` into `dataDir` when it holds no database yet (no PG_VERSION); says whether it did.
 * The copy goes to a scratch directory first and PG_VERSION moves in last: a copy cut short leaves no
 * database behind, and the next start copies again (replacing the pieces the cut one moved in).
 */
export function copyTemplate(template: string, dataDir: string): boolean {
  if (!holdsNoDatabase(dataDir)) return false;
  const scratch = mkdtempSync(path.join(dataDir, '.template-'));
  try {
    cpSync(template, scratch, { recursive: true });
    for (const dir of readMeta(template)?.directories ?? []) mkdirSync(path.join(scratch, dir), { recursive: true });
    const entries = readdirSync(scratch).sort((a, b) => Number(a === 'PG_VERSION') - Number(b === 'PG_VERSION'));
    for (const entry of entries) {
      rmSync(path.join(dataDir, entry), { recursive: true, force: true });
      renameSync(path.join(scratch, entry), path.join(dataDir, entry));
    }
    return true;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
