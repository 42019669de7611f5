/**
 * Any error a request can raise, as the AppError its answer is rendered from: ours as they are;
 * Fastify's own 4xx (bad JSON, wrong content type, body too large …); and PostgreSQL refusing a value
 * the validators let through (a NUL character in text, a number out of range …), which is the
 * client's input, not a server fault: nothing was written, since the transaction rolled back. A database
 * that is away (restarting, unreachable, or the connection broke mid-call) is 503 UNAVAILABLE with
 * Retry-After, not a 500: the caller may try again, and Cordon reconnects by itself.
 */
import type { FastifyError } from 'fastify';
import { AppError, isAppError, unavailable, type ErrorCode } from '../errors.js';
import { isDataError, isDatabaseUnavailable } from '../store/errors.js';

/** The client-safe description of a call that could not reach the database. */
export const DATABASE_AWAY = 'the database is unavailable; try again shortly';

export function asAppError(raw: unknown): AppError {
  if (isAppError(raw)) return raw;
  if (isDatabaseUnavailable(raw)) return unavailable(DATABASE_AWAY, raw);
  if (isDataError(raw)) {
    const { code, message } = raw as { code: string; message?: string };
    return code === '23505'
      ? new AppError('ALREADY_EXISTS', {
          description: 'it was created meanwhile; nothing was written',
          detail: message,
          cause: raw,
        })
      : new AppError('INVALID_ARGUMENT', {
          description: 'a value cannot be stored as given (a NUL character, say, or a number out of range)',
          detail: `SQLSTATE ${code}: ${message}`,
          cause: raw,
        });
  }
  const error = raw as FastifyError;
  if (error.validation) return new AppError('INVALID_ARGUMENT', { description: error.message });
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    const code: ErrorCode =
      status === 401
        ? 'UNAUTHENTICATED'
        : status === 403
          ? 'PERMISSION_DENIED'
          : status === 404
            ? 'NOT_FOUND'
            : status === 429
              ? 'RATE_LIMITED'
              : 'INVALID_ARGUMENT';
    return new AppError(code, { description: error.message, cause: error });
  }
  return new AppError('INTERNAL', { cause: error });
}
