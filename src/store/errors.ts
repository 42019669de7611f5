/** True when `error` is PostgreSQL's unique_violation (23505) on the named constraint or index. */
export function isUniqueViolation(error: unknown, constraint: string): boolean {
  const e = error as { code?: string; constraint?: string } | undefined;
  return e?.code === '23505' && e.constraint === constraint;
}

/** True for data errors (SQLSTATE classes 22 and 23): the statement was refused, nothing committed. */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/**
 * SQLSTATEs of a database that is going away or not there yet: admin_shutdown (57P01, `pg_ctl stop -m
 * fast`), crash_shutdown (57P02), cannot_connect_now (57P03, starting up or shutting down),
 * too_many_connections (53300), and class 08, connection exceptions.
 */
const UNAVAILABLE_SQLSTATES = /^(57P0[123]|53300|08[0-9A-Z]{3})$/;
/** Socket errors of a connection that failed or broke. */
const SOCKET_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/**
 * What pg (and pg-pool) say when a connection ends under a query, a broken client is used again, or no
 * connection could be had in time: these carry no code.
 */
const DRIVER_MESSAGES =
  /^(Connection terminated|Client has encountered a connection error and is not queryable|timeout exceeded when trying to connect)/;

/**
 * True when `error` says the database could not be reached or the connection was lost, rather than that
 * it refused a statement: the call may be tried again once the database is back. A write that failed this
 * way may or may not have committed (the answer to COMMIT can be what was lost).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (UNAVAILABLE_SQLSTATES.test(code) || SOCKET_ERRORS.has(code))) return true;
  if (typeof message === 'string' && DRIVER_MESSAGES.test(message)) return true;
  // A connection that could not be made at all: Node reports every address it tried in one AggregateError.
  return error instanceof AggregateError && error.errors.length > 0 && error.errors.every(isDatabaseUnavailable);
}
