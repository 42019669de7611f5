/**
 * An exclusive lock on the embedded data directory.
 *
 * PGlite does nothing to stop two processes from opening one data directory, and when they do, writes are
 * silently lost (reference/dependencies.md §2.5). The first process creates `cordon.lock` with
 * `O_EXCL`, recording its PID, the process start time (so that a recycled PID is not mistaken for the
 * holder) and what it is doing. A lock whose process is gone is stale and is taken over.
 */
import { linkSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

/** The lock file's text and what it says; undefined when there is no lock file. */
function readLock(file: string): { raw: string; info: LockInfo | undefined } | undefined {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return { raw, info: JSON.parse(raw) as LockInfo };
  } catch {
    return { raw, info: undefined };
  }
}

export function describeHolder(info: LockInfo): string {
  const what =
    info.holder === 'serve' ? `a Cordon server${info.url ? ` at ${info.url}` : ''}` : `\`cordon ${info.holder}\``;
  return `${what} (pid ${info.pid}, since ${info.since})`;
}

const TAKEOVER_GUARD_TTL_MS = 10_000;

/**
 * Removes the lock judged stale, and only that one: takeovers are serialized by a guard file, and the
 * lock is removed only if it still reads exactly as it did when judged, so a live lock that another
 * process took meanwhile is never touched.
 */
function takeOverStaleLock(file: string, staleRaw: string): void {
  const guard = `${file}.takeover`;
  try {
    writeFileSync(guard, String(process.pid), { flag: 'wx', mode: 0o600 });
  } catch {
    // Another process is taking over. A guard left by one that died mid-takeover expires.
    try {
      if (Date.now() - statSync(guard).mtimeMs > TAKEOVER_GUARD_TTL_MS) rmSync(guard, { force: true });
    } catch {
      // gone already
    }
    sleepSync(50);
    return;
  }
  try {
    if (readLock(file)?.raw === staleRaw) rmSync(file, { force: true });
  } finally {
    rmSync(guard, { force: true });
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
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

  for (let attempt = 0; attempt < 20; attempt++) {
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
          if (readLock(file)?.info?.pid === process.pid) rmSync(file, { force: true });
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
    if (!existing) continue; // released meanwhile: try again
    if (existing.info && isAlive(existing.info)) {
      throw new AppError('DATA_DIR_LOCKED', {
        description:
          `the data directory ${dataDir} is in use by ${describeHolder(existing.info)}. ` +
          'Only one process may open an embedded data directory: stop it, or use its HTTP API, ' +
          'or run Cordon on PostgreSQL (DATABASE_URL) to share one database between processes.',
      });
    }
    // Stale (its process is gone) or unreadable (never written by this code: link(2) publishes whole files).
    takeOverStaleLock(file, existing.raw);
  }
  throw new AppError('DATA_DIR_LOCKED', {
    description: `could not take the lock ${file}: other processes keep contending for it`,
  });
}

/** The URL of a live `cordon serve` holding the data directory, if one does. */
export function servingUrl(dataDir: string): string | undefined {
  const info = readLock(path.join(dataDir, LOCK_NAME))?.info;
  return info && info.holder === 'serve' && info.url && isAlive(info) ? info.url : undefined;
}
