/** The longest a failing background job waits between tries (see backoffDelay). */
export const BACKOFF_MAX_MS = 2_000;

/**
 * How long background work (the audit sequencer, the periodic jobs) waits after failing `failures`
 * times in a row: its interval, doubled with each failure, up to BACKOFF_MAX_MS (or the interval, when
 * that is longer). A database that is away is not asked again every few milliseconds by every job, and
 * once it is back the work resumes within a couple of seconds.
 */
export function backoffDelay(intervalMs: number, failures: number): number {
  return Math.min(intervalMs * 2 ** Math.min(failures, 30), Math.max(intervalMs, BACKOFF_MAX_MS));
}
