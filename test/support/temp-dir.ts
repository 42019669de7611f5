/**
 * Files a test writes (an import to read, an export to verify) go in a directory of the test file's own,
 * removed with everything in it once the file's tests are done: a run leaves nothing in the temp dir.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

/** Registers the cleanup; returns the path of a file named `name` in the directory (made on first use). */
export function useTempDir(prefix = 'cordon-test-'): (name: string) => string {
  let dir: string | undefined;
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return (name) => path.join((dir ??= mkdtempSync(path.join(tmpdir(), prefix))), name);
}
