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
