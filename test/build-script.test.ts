/**
 * scripts/build.js, which `npm start` runs with --if-stale: it builds when an input of the build is newer
 * than the last successful build, and only then. Run on a tiny project of its own whose `typescript`
 * is a stand-in tsc (it copies src/cli/main.ts to dist/ and fails on a file saying FAIL), so that what is
 * tested is the decision to build, in milliseconds.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = path.resolve('scripts/build.js');
const BUILDING = 'The sources changed since the last build: building dist/ (tsc)…\n';
const dir = mkdtempSync(path.join(tmpdir(), 'cordon-build-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const at = (file: string) => path.join(dir, file);
const mtime = (file: string) => statSync(at(file)).mtimeMs;
const setMtime = (file: string, ms: number) => utimesSync(at(file), new Date(ms), new Date(ms));

function write(file: string, text: string): void {
  mkdirSync(path.dirname(at(file)), { recursive: true });
  writeFileSync(at(file), text);
}

function runBuild(...args: string[]) {
  const result = spawnSync(process.execPath, [SCRIPT, ...args], { cwd: dir, encoding: 'utf8' });
  return { status: result.status, stderr: result.stderr, stdout: result.stdout };
}

// Every input dates from long ago; "edited after the build" moves the stamp back before the edit.
const LONG_AGO = Date.parse('2020-01-01T00:00:00Z');
const INPUTS = ['package.json', 'tsconfig.json', 'src/cli/main.ts', 'src/cli/main.test.ts'];
function editedAfterBuild(file: string): void {
  for (const input of INPUTS) setMtime(input, LONG_AGO);
  setMtime('dist/.build-stamp', LONG_AGO + 10_000);
  setMtime(file, LONG_AGO + 20_000);
}

write('package.json', '{ "type": "module" }\n');
write('tsconfig.json', '{}\n');
write('src/cli/main.ts', 'export const answer = 42;\n');
write('src/cli/main.test.ts', 'export {};\n');
write('node_modules/typescript/package.json', '{ "name": "typescript" }\n');
write(
  'node_modules/typescript/bin/tsc',
  `const fs = require('node:fs');
   const source = fs.readFileSync('src/cli/main.ts', 'utf8');
   fs.mkdirSync('dist/cli', { recursive: true });
   fs.writeFileSync('dist/cli/main.js', source);
   process.exitCode = source.includes('FAIL') ? 2 : 0;\n`,
);
for (const file of INPUTS) setMtime(file, LONG_AGO);

describe('scripts/build.js --if-stale', () => {
  it('builds when there is no build, then not again until an input changes', () => {
    expect(runBuild('--if-stale')).toEqual({ status: 0, stderr: BUILDING, stdout: '' });
    setMtime('dist/cli/main.js', LONG_AGO);
    expect(runBuild('--if-stale')).toEqual({ status: 0, stderr: '', stdout: '' });
    expect(mtime('dist/cli/main.js')).toBe(LONG_AGO);

    // Tests are not compiled: a test file is no input of the build.
    editedAfterBuild('src/cli/main.test.ts');
    expect(runBuild('--if-stale')).toEqual({ status: 0, stderr: '', stdout: '' });
    expect(mtime('dist/cli/main.js')).toBe(LONG_AGO);

    for (const input of ['src/cli/main.ts', 'tsconfig.json', 'package.json']) {
      editedAfterBuild(input);
      expect(runBuild('--if-stale'), input).toEqual({ status: 0, stderr: BUILDING, stdout: '' });
      expect(mtime('dist/cli/main.js')).toBeGreaterThan(LONG_AGO);
      setMtime('dist/cli/main.js', LONG_AGO);
      expect(runBuild('--if-stale')).toEqual({ status: 0, stderr: '', stdout: '' });
    }
  });

  it('builds when dist/ lost its entry point, stamp or not', () => {
    rmSync(at('dist/cli/main.js'));
    expect(runBuild('--if-stale')).toEqual({ status: 0, stderr: BUILDING, stdout: '' });
  });

  it('leaves no stamp after a failed build, so the next start builds again', () => {
    write('src/cli/main.ts', 'export const answer = FAIL;\n');
    editedAfterBuild('src/cli/main.ts');
    expect(runBuild('--if-stale').status).toBe(2);
    // Fixed, with an mtime older than the last good stamp: only the missing stamp makes it build.
    write('src/cli/main.ts', 'export const answer = 42;\n');
    for (const input of INPUTS) setMtime(input, LONG_AGO);
    expect(runBuild('--if-stale')).toEqual({ status: 0, stderr: BUILDING, stdout: '' });
  });

  it('always builds without --if-stale (npm run build)', () => {
    setMtime('dist/cli/main.js', LONG_AGO);
    expect(runBuild()).toEqual({ status: 0, stderr: '', stdout: '' });
    expect(mtime('dist/cli/main.js')).toBeGreaterThan(LONG_AGO);
  });

  it('--clean (npm pack) empties dist/ first, but keeps the template, which is remade only when not current', () => {
    write('dist/gone.js', 'a build of a source since removed\n');
    write('dist/pglite-template/PG_VERSION', '17\n');
    write('dist/pglite-template.json', '{}\n');
    expect(runBuild('--clean')).toEqual({ status: 0, stderr: '', stdout: '' });
    expect(existsSync(at('dist/gone.js'))).toBe(false);
    expect(existsSync(at('dist/cli/main.js'))).toBe(true);
    expect(existsSync(at('dist/pglite-template/PG_VERSION'))).toBe(true);
    expect(existsSync(at('dist/pglite-template.json'))).toBe(true);
  });
});
