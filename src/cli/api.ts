/**
 * What every admin command's one body calls: Cordon's HTTP API, whichever instance answers (a running
 * server's over HTTP, remote.ts; or the CLI's own, in process, local-api.ts).
 */
import { AppError, ErrorCodes, type ErrorCode } from '../errors.js';

/** A request with a body that is not JSON (an import's file). */
export interface RawBody {
  method: string;
  body: string;
  contentType: string;
}

/**
 * Cordon's HTTP API as every admin command calls it: a running server's over HTTP (ApiClient), or the
 * CLI's own in-process instance as the local operator (LocalApi, local-api.ts). Errors in
 * google.rpc.Status shape come back as AppErrors.
 */
export interface Api {
  /** True for the in-process instance: the caller is the local operator, not a signed-in person. */
  readonly local: boolean;
  call<T>(method: string, route: string, body?: unknown): Promise<T>;
  /** A response body streamed as text chunks: a GET (an export), or `raw` sent (an import). */
  stream(route: string, raw?: RawBody): AsyncGenerator<string>;
}

/** The AppError an error answer stands for: its google.rpc.Status reason, or its HTTP status. */
export function errorOfResponse(status: number, statusText: string, text: string): AppError {
  let reason: string | undefined;
  let message = `${status} ${statusText}`;
  try {
    const parsed = JSON.parse(text) as { message?: string; details?: Array<{ reason?: string }> };
    reason = parsed.details?.[0]?.reason;
    message = parsed.message ?? message;
  } catch {
    // not a Status body: keep the HTTP status line
  }
  const code: ErrorCode =
    reason && reason in ErrorCodes ? (reason as ErrorCode) : status === 401 ? 'UNAUTHENTICATED' : 'INTERNAL';
  return new AppError(code, {
    description: code === 'UNAUTHENTICATED' ? `${message} (run \`cordon login\`)` : message,
  });
}
