/**
 * scripts/check-imports.js, the import-rule check CI runs: on tiny trees of their own it refuses a
 * wrong-way import (naming the file and the rule) and passes a right-way one; the real src/ passes; and
 * the architecture page carries the checker's own table of the rules.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = path.resolve('scripts/check-imports.js');
const base = mkdtempSync(path.join(tmpdir(), 'cordon-imports-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

let trees = 0;
/** A tree laid out like src/ (files relative to it), in a directory of its own. */
function tree(files: Record<string, string>): string {
  const dir = path.join(base, String(trees++));
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, 'src', file)), { recursive: true });
    writeFileSync(path.join(dir, 'src', file), text);
  }
  return dir;
}

function check(dir: string, ...args: string[]) {
  const result = spawnSync(process.execPath, [SCRIPT, ...args], { cwd: dir, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Modules that import only downward: HTTP → service → store → storage, and leaves from anywhere. */
const RIGHT_WAY = {
  'errors.ts': 'export class AppError extends Error {}\n',
  'storage/schema.ts': 'export interface Database { users: object }\n',
  'store/tree.ts':
    "import type { Database } from '../storage/schema.js';\nexport type Hash = Buffer;\nexport type Db = Database;\n",
  'audit/merkle.ts':
    "import type { Hash } from '../store/tree.js';\nimport { AppError } from '../errors.js';\n" +
    "export const fail = (h: Hash) => new AppError(h.toString('hex'));\n",
  'http/routes/audit.ts':
    "import type { FastifyInstance } from 'fastify';\nimport { fail } from '../../audit/merkle.js';\n" +
    'export const routes = (app: FastifyInstance) => [app, fail];\n',
  'store/tree.test.ts': "import { routes } from '../http/routes/audit.js';\nexport { routes };\n",
};

describe('scripts/check-imports.js', () => {
  it('passes a tree whose every import goes downward (tests may import anything)', () => {
    const { status, stdout } = check(tree(RIGHT_WAY), 'src');
    expect(stdout).toBe('check-imports: 5 modules, 5 imports, 0 wrong-way imports\n');
    expect(status).toBe(0);
  });

  it('refuses a wrong-way import, type-only included, naming the file, the import and the rule', () => {
    const dir = tree({
      ...RIGHT_WAY,
      'store/tree.ts':
        "import type { fail } from '../audit/merkle.js';\nexport type Hash = Buffer;\nexport type F = typeof fail;\n",
    });
    const { status, stdout } = check(dir, 'src');
    expect(stdout).toBe(
      'src/store/tree.ts:1: store/tree.ts imports (type only) audit/merkle.ts, of layer audit: store imports only ' +
        'storage, the leaf modules (rule "store")\n' +
        'check-imports: 5 modules, 5 imports, 1 wrong-way import\n',
    );
    expect(status).toBe(1);
  });

  it(
    'refuses a service that takes a fastify request, an export ' +
      'from above, an import() type, and a leaf that imports a layer',
    () => {
      const dir = tree({
        ...RIGHT_WAY,
        'core.ts': 'export interface Core { name: string }\n',
        'directory/guard.ts': "import type { FastifyRequest } from 'fastify';\nexport type R = FastifyRequest;\n",
        'response/explain.ts':
          "export type { Core } from '../core.js';\nexport type C = import('../http/routes/audit.js').Routes;\n",
        'ids.ts': "import type { Db } from './store/tree.js';\nexport type Id = Db;\n",
      });
      const { status, stdout } = check(dir, 'src');
      expect(stdout.split('\n')).toEqual([
        'src/directory/guard.ts:1: directory/guard.ts imports (type only) fastify: only app, cli, console, http may ' +
          'import fastify or @fastify/: services take plain types, never a request (rule "directory")',
        'src/ids.ts:1: ids.ts imports (type only) store/tree.ts, of layer store: leaf modules import only leaf ' +
          'modules (rule "leaf")',
        'src/response/explain.ts:1: response/explain.ts imports (type only) core.ts, of layer core: response imports ' +
          'only targets, notify, oauth, auth, directory, audit, store, storage, the leaf modules (rule "response")',
        'src/response/explain.ts:2: response/explain.ts imports (type only) http/routes/audit.ts, of layer http: ' +
          'response imports only targets, notify, oauth, auth, directory, audit, store, storage, the leaf modules ' +
          '(rule "response")',
        'check-imports: 9 modules, 9 imports, 4 wrong-way imports',
        '',
      ]);
      expect(status).toBe(1);
    },
  );

  it('refuses a folder that is in no layer, so that a new one gets its rule', () => {
    const { status, stdout } = check(tree({ ...RIGHT_WAY, 'helpers/misc.ts': 'export const x = 1;\n' }), 'src');
    expect(stdout).toContain(
      'src/helpers/misc.ts:1: helpers/misc.ts is in no layer: add its folder to the table in ' +
        'scripts/check-imports.js and docs/architecture.md\n',
    );
    expect(status).toBe(1);
  });

  it('passes on the real src/', () => {
    const { status, stdout } = check(process.cwd());
    expect(stdout).toMatch(
      /\ncheck-imports: \d+ modules, \d+ imports, 0 wrong-way imports\n$|^check-imports: \d+ modules, \d+ imports, 0 wrong-way imports\n$/,
    );
    expect(status).toBe(0);
  });

  it('is the table docs/architecture.md shows', () => {
    const { status, stdout } = check(process.cwd(), '--table');
    expect(status).toBe(0);
    expect(readFileSync('docs/architecture.md', 'utf8')).toContain(stdout);
  });
});
