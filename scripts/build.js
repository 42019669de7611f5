#!/usr/bin/env node
/**
 * Builds dist/ with tsc, then the migrated PGlite template that a new embedded data directory starts as
 * (dist/pglite-template/, see src/storage/pglite-template.ts; remade only when the migrations or PGlite
 * changed), and marks a successful build with dist/.build-stamp (its mtime is when the build started, so
 * an edit made during the build still counts as newer).
 *
 *   node scripts/build.js             build (`npm run build`)
 *   node scripts/build.js --if-stale  build only when a source is newer than the stamp (`npm start`)
 *   node scripts/build.js --clean     empty dist/ but for the template (remade only when not current), then
 *                                     build (`prepack`: a file whose source is gone must not reach the package)
 *
 * `npm start` used to run tsc on every start: 25 s on a loaded machine for nothing, when `npm ci` had
 * just built. The inputs of the build are the sources under src/ (tests are not compiled), tsconfig.json
 * and package.json; the working directory is the package root (npm runs scripts there).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = process.cwd();
const STAMP = path.join(root, 'dist', '.build-stamp');
const ENTRY = path.join(root, 'dist', 'cli', 'main.js');

/** The newest mtime (ms) among the build's inputs. */
function newestInput() {
  let newest = 0;
  const visit = (file) => {
    const stat = statSync(file);
    if (stat.isDirectory()) {
      for (const name of readdirSync(file)) visit(path.join(file, name));
    } else if (!file.endsWith('.test.ts')) {
      newest = Math.max(newest, stat.mtimeMs);
    }
  };
  for (const input of ['src', 'tsconfig.json', 'package.json']) {
    if (existsSync(path.join(root, input))) visit(path.join(root, input));
  }
  return newest;
}

function isStale() {
  if (!existsSync(STAMP) || !existsSync(ENTRY)) return true;
  return newestInput() > statSync(STAMP).mtimeMs;
}

/**
 * The template saves every first start initdb; without one, Cordon still starts (initdb runs then), so a
 * failure here is reported and the build goes on.
 */
async function makeTemplate() {
  const module = path.join(root, 'dist', 'storage', 'pglite-template.js');
  if (!existsSync(module)) return;
  try {
    const started = Date.now();
    const { makeTemplate: make, TEMPLATE_DIR } = await import(pathToFileURL(module).href);
    if ((await make()) === 'made')
      process.stderr.write(
        `Made the migrated database template ${path.relative(root, TEMPLATE_DIR)}/ in ` +
          `${((Date.now() - started) / 1000).toFixed(1)} s\n`,
      );
  } catch (error) {
    process.stderr.write(
      `warning: could not make the database template (first starts will run initdb): ` +
        `${error instanceof Error ? error.message : String(error)}\n`,
    );
  }
}

/** Empties dist/ but for the template and its record, which makeTemplate keeps when they are current. */
function clean() {
  const dist = path.join(root, 'dist');
  if (!existsSync(dist)) return;
  for (const name of readdirSync(dist)) {
    if (name !== 'pglite-template' && name !== 'pglite-template.json')
      rmSync(path.join(dist, name), { recursive: true, force: true });
  }
}

async function build() {
  const started = new Date();
  if (process.argv.includes('--clean')) clean();
  // A build that fails half-way may have emitted part of dist/: no stamp until one succeeds.
  rmSync(STAMP, { force: true });
  const tsc = createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) return result.status ?? 1;
  await makeTemplate();
  writeFileSync(STAMP, `built from the sources as of ${started.toISOString()}\n`);
  utimesSync(STAMP, started, started);
  return 0;
}

if (process.argv.includes('--if-stale') && !isStale()) {
  process.exitCode = 0;
} else {
  if (process.argv.includes('--if-stale'))
    process.stderr.write('The sources changed since the last build: building dist/ (tsc)…\n');
  process.exitCode = await build();
}
