/**
 * An exclusive lock on the embedded data directory.
 *
 * PGlite does nothing to stop two processes from opening one data directory, and when they do, writes are
 * silently lost (reference/dependencies.md §2.5). The first process creates `cordon.lock` with
 * `O_EXCL`, recording its PID, the process start time (so that a recycled PID is not mistaken for the
 * holder) and what it is doing. A lock whose process is gone is stale and is taken over.
 */
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.js';

export interface LockInfo {
  pid: number;
  /** Process start time in clock ticks since boot (Linux /proc), when available. */
  startTime: string | null;
  /** What holds the lock: `serve` (with its URL once listening) or a CLI command. */
  holder: string;
  url?: string;
  since: string;
}

export interface DataDirLock {
  readonly file: string;
  /** Records extra facts about the holder (the server's URL once it listens). */
  update(extra: Partial<LockInfo>): void;
  release(): void;
}

const LOCK_NAME = 'cordon.lock';

function processStartTime(pid: number): string | null {
  try {
    // Field 22 of /proc/PID/stat; the command name (field 2) may contain spaces, so split after ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(info: LockInfo): boolean {
  try {
    process.kill(info.pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const start = processStartTime(info.pid);
  return info.startTime === null || start === null || start === info.startTime;
}

function readLock(file: string): LockInfo | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LockInfo;
  } catch {
    return undefined;
  }
}

export function describeHolder(info: LockInfo): string {
  const what = info.holder === 'serve' ? `a Cordon server${info.url ? ` at ${info.url}` : ''}` : `\`cordon ${info.holder}\``;
  return `${what} (pid ${info.pid}, since ${info.since})`;
}

/**
 * Moves a stale lock aside. If another process took the lock over in the meantime, what was moved is
 * its live lock, so it is put back.
 */
function takeOverStaleLock(file: string, stale: LockInfo | undefined): void {
  const aside = `${file}.stale.${process.pid}`;
  try {
    renameSync(file, aside);
  } catch {
    return; // someone else moved it first: try again
  }
  const moved = readLock(aside);
  if (moved && stale && moved.pid !== stale.pid && isAlive(moved)) {
    try {
      linkSync(aside, file);
    } catch {
      // a third process holds the lock now; the next attempt will see it
    }
  }
  rmSync(aside, { force: true });
}

/**
 * Takes the lock or throws DATA_DIR_LOCKED naming the holder. The directory must exist.
 */
export function acquireDataDirLock(dataDir: string, holder: string): DataDirLock {
  const file = path.join(dataDir, LOCK_NAME);
  let info: LockInfo = {
    pid: process.pid,
    startTime: processStartTime(process.pid),
    holder,
    since: new Date().toISOString(),
  };
  // Written to a private file first and linked into place: link(2) fails atomically when the lock exists,
  // and nobody ever sees a half-written lock.
  const staging = `${file}.${process.pid}`;
  const write = (target: string) => writeFileSync(target, JSON.stringify(info) + '\n', { mode: 0o600 });

  for (let attempt = 0; attempt < 5; attempt++) {
    write(staging);
    try {
      linkSync(staging, file);
      let released = false;
      return {
        file,
        update(extra) {
          info = { ...info, ...extra };
          write(staging);
          renameSync(staging, file);
        },
        release() {
          if (released) return;
          released = true;
          if (readLock(file)?.pid === process.pid) rmSync(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new AppError('DATA_DIR_LOCKED', { detail: `cannot create ${file}`, cause: error });
      }
    } finally {
      rmSync(staging, { force: true });
    }
    const existing = readLock(file);
    if (existing && isAlive(existing)) {
      throw new AppError('DATA_DIR_LOCKED', {
        description:
          `the data directory ${dataDir} is in use by ${describeHolder(existing)}. ` +
          'Only one process may open an embedded data directory: stop it, or use its HTTP API, ' +
          'or run Cordon on PostgreSQL (DATABASE_URL) to share one database between processes.',
      });
    }
    takeOverStaleLock(file, existing);
  }
  throw new AppError('DATA_DIR_LOCKED', { detail: `could not take ${file} after removing a stale lock` });
}
