import Table from 'cli-table3';
import { AppError, isAppError, type ErrorCode } from '../errors.js';
import { ConfigError } from '../config.js';

/** Where a command writes, and the environment it reads config from (tests pass their own). */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
  /** Where `cordon login` reads a password from (default: process.stdin). */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
}

/** A value of a JSON document as a table cell or a line shows it: a string as is, anything else as JSON. */
export const asText = (value: unknown): string =>
  typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);

/** Exit codes: documented in `cordon --help`. */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  NOT_FOUND: 3,
  REFUSED: 4,
  UNAVAILABLE: 5,
  CONFIG: 78,
} as const;

const EXIT_BY_CODE: Partial<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: EXIT.USAGE,
  NOT_FOUND: EXIT.NOT_FOUND,
  USER_NOT_FOUND: EXIT.NOT_FOUND,
  ACCOUNT_NOT_FOUND: EXIT.NOT_FOUND,
  GROUP_NOT_FOUND: EXIT.NOT_FOUND,
  SOURCE_NOT_FOUND: EXIT.NOT_FOUND,
  PLAN_NOT_FOUND: EXIT.NOT_FOUND,
  SIGNAL_NOT_FOUND: EXIT.NOT_FOUND,
  CONTAINMENT_NOT_FOUND: EXIT.NOT_FOUND,
  SECRET_ALREADY_READ: EXIT.NOT_FOUND,
  CONTAINMENT_LOCKED: EXIT.REFUSED,
  CONTAINMENT_CLOSED: EXIT.REFUSED,
  PLAN_NOT_PENDING: EXIT.REFUSED,
  PLAN_EXPIRED: EXIT.REFUSED,
  PLAN_VOID: EXIT.REFUSED,
  DIGEST_MISMATCH: EXIT.REFUSED,
  NOT_AN_APPROVER: EXIT.REFUSED,
  RESTORE_UNVERIFIED: EXIT.REFUSED,
  INVALID_PLAYBOOK: EXIT.USAGE,
  INVALID_POLICY: EXIT.USAGE,
  INVALID_SIGNAL: EXIT.USAGE,
  LAST_OWNER: EXIT.REFUSED,
  EXTERNALLY_MANAGED: EXIT.REFUSED,
  APP_CONSTRAINT: EXIT.REFUSED,
  SUSPENSION_CAP: EXIT.REFUSED,
  PERMISSION_DENIED: EXIT.REFUSED,
  EMAIL_TAKEN: EXIT.REFUSED,
  ALREADY_EXISTS: EXIT.REFUSED,
  FAILED_PRECONDITION: EXIT.REFUSED,
  UNAUTHENTICATED: EXIT.REFUSED,
  SIGN_IN_FAILED: EXIT.REFUSED,
  USER_SUSPENDED: EXIT.REFUSED,
  PASSWORD_CHANGE_REQUIRED: EXIT.REFUSED,
  CURRENT_PASSWORD_WRONG: EXIT.REFUSED,
  WEAK_PASSWORD: EXIT.USAGE,
  SIGN_IN_BACKOFF: EXIT.UNAVAILABLE,
  DATA_DIR_LOCKED: EXIT.UNAVAILABLE,
  UNAVAILABLE: EXIT.UNAVAILABLE,
  CONFIG_INVALID: EXIT.CONFIG,
};

/** A failure the command has already explained to the user; carries only the exit code. */
export class Reported extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

/** Prints an error for a person (or as JSON) and returns the exit code it maps to. */
export function reportError(io: CliIo, error: unknown, json: boolean): number {
  if (error instanceof Reported) return error.exitCode;
  if (error instanceof ConfigError) {
    io.stderr.write(
      `cordon: invalid configuration (${error.problems.length} problem${error.problems.length > 1 ? 's' : ''}):\n`,
    );
    for (const p of error.problems) io.stderr.write(`  - ${p}\n`);
    return EXIT.CONFIG;
  }
  if (isAppError(error)) {
    if (json) io.stdout.write(JSON.stringify({ error: { code: error.code, message: error.description } }) + '\n');
    else io.stderr.write(`cordon: ${error.description} [${error.code}]\n`);
    if (error.code === 'UNAVAILABLE' && error.cause)
      io.stderr.write(`  cause: ${String((error.cause as Error).message ?? error.cause)}\n`);
    return EXIT_BY_CODE[error.code] ?? EXIT.FAILURE;
  }
  io.stderr.write(`cordon: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
  return EXIT.FAILURE;
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/**
 * A list as every read command's `--json` prints one (README, The CLI): `{"items": […]}`, with
 * `next_page_token` only when there is more to read.
 */
export function printList(io: CliIo, items: unknown[], nextPageToken?: string): void {
  printJson(io, { items, ...(nextPageToken ? { next_page_token: nextPageToken } : {}) });
}

/** Whom a user id stands for, as a read's `people` map names them. */
export type People = Record<string, { email: string; display_name: string }>;

/** A person as tables show one: `name <email>`; an id that names no user (an app, the operator) as it is. */
export function personOf(people: People, id: string | null | undefined): string {
  if (!id) return '';
  const p = people[id];
  return p ? `${p.display_name} <${p.email}>` : id;
}

/** An actor (`user`, `app`, `operator`…) as tables show one: a person by name, anything else as type:id. */
export function actorOf(people: People, type: string, id: string): string {
  return people[id] ? personOf(people, id) : `${type}:${id}`;
}

/**
 * Prints a table; an empty list says so (`empty`, e.g. "no users") instead of printing a bare header.
 */
export function printTable(
  io: CliIo,
  head: string[],
  rows: Array<Array<string | number | boolean>>,
  empty = 'nothing to show',
): void {
  if (rows.length === 0) return void io.stdout.write(`${empty}\n`);
  const table = new Table({ head, style: { head: [], border: [], compact: true } });
  for (const row of rows) table.push(row.map(String));
  io.stdout.write(table.toString() + '\n');
}

export function usageError(message: string): AppError {
  return new AppError('INVALID_ARGUMENT', { description: message });
}
