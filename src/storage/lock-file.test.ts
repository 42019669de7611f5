import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireDataDirLock } from './lock-file.js';

describe('data dir lock', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cordon-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lets one holder in and names it to the next', () => {
    const lock = acquireDataDirLock(dir, 'serve');
    lock.update({ url: 'http://127.0.0.1:9999' });
    let error: unknown;
    try {
      acquireDataDirLock(dir, 'users list');
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'DATA_DIR_LOCKED' });
    expect((error as Error).message).toContain(`a Cordon server at http://127.0.0.1:9999 (pid ${process.pid}`);
    lock.release();
    expect(existsSync(path.join(dir, 'cordon.lock'))).toBe(false);
    acquireDataDirLock(dir, 'users list').release();
  });

  it('takes over the lock of a process that is gone', () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const pid = Number(dead.stdout);
    writeFileSync(
      path.join(dir, 'cordon.lock'),
      JSON.stringify({ pid, startTime: null, holder: 'serve', since: 'earlier' }),
    );
    const lock = acquireDataDirLock(dir, 'serve');
    expect(JSON.parse(readFileSync(lock.file, 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('does not mistake a recycled pid for the holder', () => {
    // Our own pid, but a different process start time: the holder that wrote it is gone.
    writeFileSync(
      path.join(dir, 'cordon.lock'),
      JSON.stringify({ pid: process.pid, startTime: '1', holder: 'serve', since: 'earlier' }),
    );
    const lock = acquireDataDirLock(dir, 'serve');
    expect(JSON.parse(readFileSync(lock.file, 'utf8')).startTime).not.toBe('1');
    lock.release();
  });

  it('takes over an unreadable lock', () => {
    writeFileSync(path.join(dir, 'cordon.lock'), '');
    acquireDataDirLock(dir, 'serve').release();
  });

  it('lets exactly one of several processes racing over a stale lock in', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(
      path.join(dir, 'cordon.lock'),
      JSON.stringify({ pid: Number(dead.stdout), startTime: null, holder: 'serve', since: 'earlier' }),
    );
    const children = Array.from({ length: 6 }, () =>
      spawn(process.execPath, ['--import', 'tsx', 'test/support/lock-contender.ts', dir], {
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    // Each says how it went; the winner holds the lock until it is killed.
    const outcomes = await Promise.all(
      children.map(
        (child) => new Promise<string>((resolve) => child.stdout.once('data', (d) => resolve(String(d).trim()))),
      ),
    );
    for (const child of children) child.kill('SIGKILL');
    expect(outcomes.filter((o) => o === 'got')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'refused: DATA_DIR_LOCKED')).toHaveLength(5);
  }, 30_000);
});
