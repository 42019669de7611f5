/**
 * Cordon installs like a product: `npm pack` of a clean checkout (a copy of the build's inputs, with no
 * dist/) builds it (the `prepack` script) into a tarball, which `npm install` puts into an empty folder
 * without any build tool, and whose `cordon serve` starts there on a fresh data directory and answers
 * /readyz. Slow (a full tsc, the template, an install), and the same whatever CORDON_TEST_BACKENDS says:
 * it runs once.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const MINUTES = 60_000;
const dir = mkdtempSync(path.join(tmpdir(), 'cordon-pack-'));
const checkout = path.join(dir, 'checkout');
const app = path.join(dir, 'app');
const installed = path.join(app, 'node_modules', 'cordon');

/** What npm sees: this environment without the settings `npm test` handed down to it. */
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));

let tarball = '';
let entries: string[] = [];
let packed: { private?: boolean; bin?: Record<string, string>; dependencies: Record<string, string> };

beforeAll(async () => {
  // A checkout as a clone has it: the build's inputs and the files the package takes, no dist/.
  for (const input of ['package.json', 'package-lock.json', 'tsconfig.json', 'README.md', 'bin', 'scripts', 'src']) {
    cpSync(input, path.join(checkout, input), { recursive: true });
  }
  cpSync('deploy', path.join(checkout, 'deploy'), { recursive: true });
  cpSync('docs', path.join(checkout, 'docs'), { recursive: true });
  symlinkSync(path.resolve('node_modules'), path.join(checkout, 'node_modules'));
  const out = path.join(dir, 'out');
  mkdirSync(out);
  await run('npm', ['pack', '--pack-destination', out], { cwd: checkout, env, timeout: 8 * MINUTES });
  const [name] = readdirSync(out);
  tarball = path.join(out, name!);
  entries = (await run('tar', ['-tzf', tarball], { maxBuffer: 16 * 1024 * 1024 })).stdout.split('\n').filter(Boolean);
  mkdirSync(app);
  // Its own package.json, so that npm installs here and not into a project it finds further up.
  writeFileSync(path.join(app, 'package.json'), '{ "private": true }\n');
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], {
    cwd: app,
    env,
    timeout: 8 * MINUTES,
  });
  packed = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8')) as typeof packed;
}, 16 * MINUTES);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** How compiled modules name another: static imports and re-exports, import(), require.resolve(). */
const SPECIFIERS = [
  /^(?:import|export)\s[^'"]*?\sfrom\s+'([^']+)';/gm,
  /^import\s+'([^']+)';/gm,
  /\bimport\(\s*'([^']+)'\s*\)/g,
  /\.resolve\(\s*'([^']+)'\s*\)/g,
];

/** The packages (bare specifiers, by package name) that the JavaScript files under `root` import or resolve. */
function importedPackages(root: string): Set<string> {
  const names = new Set<string>();
  const visit = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const file = path.join(at, entry.name);
      if (entry.isDirectory() && entry.name !== 'pglite-template') visit(file);
      if (!entry.isFile() || !entry.name.endsWith('.js')) continue;
      const text = readFileSync(file, 'utf8');
      for (const pattern of SPECIFIERS) {
        for (const [, spec] of text.matchAll(pattern)) {
          const name = /^(?:@[\w.-]+\/)?[\w.-]+/.exec(spec!)?.[0];
          if (name && !spec!.startsWith('.') && !spec!.startsWith('node:')) names.add(name);
        }
      }
    }
  };
  visit(root);
  return names;
}

describe('npm pack', () => {
  it('packs the built CLI, its template and what it reads from disk, and no source or test', () => {
    expect(path.basename(tarball)).toBe('cordon-0.1.0.tgz');
    const files = entries.map((e) => e.replace(/^package\//, ''));
    expect(new Set(files.map((f) => f.split('/')[0]))).toEqual(
      new Set(['README.md', 'package.json', 'bin', 'deploy', 'dist', 'docs', 'src']),
    );
    for (const file of [
      'bin/cordon.js',
      'dist/cli/main.js',
      'dist/storage/migrations/index.js',
      'dist/pglite-template/PG_VERSION',
      'dist/pglite-template/global/pg_filenode.map',
      'dist/pglite-template.json',
      'deploy/cordon.service',
      'deploy/cordon.sysusers',
      'deploy/healthcheck.js',
      'docs/ops.md',
    ])
      expect(files, file).toContain(file);
    expect(files.filter((f) => f.startsWith('src/')).sort()).toEqual([
      'src/console/assets/audit-verify.js',
      'src/console/assets/console.css',
      'src/console/assets/console.js',
    ]);
    expect(files.filter((f) => /\.ts$|\.js\.map$|tsbuildinfo|build-stamp|(^|\/)test\//.test(f))).toEqual([]);
  });

  it('is installable: not private, with the cordon bin, and every package it imports a dependency', () => {
    expect(packed.private).toBeUndefined();
    expect(packed.bin).toEqual({ cordon: 'bin/cordon.js' });
    // Nothing of the build came along: the installed package runs as packed.
    expect(existsSync(path.join(app, 'node_modules', 'typescript'))).toBe(false);
    const imported = [...importedPackages(path.join(installed, 'dist'))].sort();
    expect(imported).toContain('fastify');
    expect(imported.filter((name) => !(name in packed.dependencies))).toEqual([]);
    expect(imported.filter((name) => !existsSync(path.join(app, 'node_modules', name, 'package.json')))).toEqual([]);
  });
});

describe('the installed cordon', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child?.exitCode === null) child.kill('SIGKILL');
  });

  it(
    'serves from the empty folder on a fresh data dir, its first start a copy of the template',
    { timeout: 2 * MINUTES },
    async () => {
      const dataDir = path.join(dir, 'data');
      const server = spawn(path.join(app, 'node_modules', '.bin', 'cordon'), ['serve', '--listen', '127.0.0.1:0'], {
        cwd: app,
        env: { ...env, CORDON_DATA_DIR: dataDir, CORDON_METRICS_LISTEN: 'off', CORDON_LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = server;
      let stderr = '';
      server.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const serving = await new Promise<string>((resolve, reject) => {
        createInterface({ input: server.stdout }).on('line', (line) => {
          if (line.includes('serving on')) resolve(line);
        });
        server.on('exit', (code) => reject(new Error(`cordon serve exited (${code}): ${stderr}`)));
      });
      expect(serving).toMatch(
        /^Cordon is serving on http:\/\/127\.0\.0\.1:\d+ \(pglite, ready in \d+ ms: database \d+ ms/,
      );
      expect(serving).toContain('(from the migrated template)');
      const url = /serving on (\S+)/.exec(serving)![1]!;

      const ready = await fetch(`${url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ok', database: 'pglite' });
      // The console's own assets are read from the package at start.
      const css = await fetch(`${url}/console/assets/console.css`);
      expect(css.status).toBe(200);
      expect(await css.text()).toBe(readFileSync('src/console/assets/console.css', 'utf8'));

      // The container's health check, as the Dockerfile runs it, says the same; and no once it has stopped.
      const healthcheck = () =>
        run(process.execPath, [path.join(installed, 'deploy', 'healthcheck.js')], {
          env: { ...env, CORDON_LISTEN: new URL(url).host },
        }).then(
          () => 0,
          (error: { code?: number }) => error.code,
        );
      expect(await healthcheck()).toBe(0);

      const code = await new Promise<number | null>((resolve) => {
        server.removeAllListeners('exit');
        server.on('exit', resolve);
        server.kill('SIGTERM');
      });
      expect(code).toBe(0);
      expect(existsSync(path.join(dataDir, 'cordon.lock'))).toBe(false);
      expect(await healthcheck()).toBe(1);
    },
  );
});
