/**
 * One rule for NUL on every route: a NUL character (U+0000) anywhere in the path parameters, the query or
 * the body is refused with 400 INVALID_ARGUMENT naming where it was, before any handler sees the request.
 * PostgreSQL stores no NUL in text or jsonb, so the alternatives were a database error on some routes and
 * a silent U+FFFD on others; neither tells the client what happened.
 */
import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';

/** The path (e.g. `body.reason`) of the first string holding a NUL, if any; walks at most `budget` values. */
function findNul(value: unknown, path: string, budget = { left: 100_000 }): string | undefined {
  if (--budget.left < 0) return undefined;
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  // A body kept as bytes (a signed one) holds numbers, never a string: walking its entries would only cost time.
  if (typeof value !== 'object' || value === null || Buffer.isBuffer(value)) return undefined;
  for (const [key, item] of Object.entries(value)) {
    // The key is the client's text: only its plain characters are echoed.
    const where = Array.isArray(value) ? `${path}[${key}]` : `${path}.${key.replace(/[^\w.-]/g, '?').slice(0, 64)}`;
    if (key.includes('\u0000')) return where;
    const found = findNul(item, where, budget);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** A preHandler (the last of every route's, see server.ts): refuses a request carrying a NUL character. */
export async function refuseNul(request: FastifyRequest): Promise<void> {
  const where = findNul(request.params, 'path') ?? findNul(request.query, 'query') ?? findNul(request.body, 'body');
  if (where !== undefined)
    throw new AppError('INVALID_ARGUMENT', {
      description: `${where}: text may not contain a NUL character (U+0000)`,
      metadata: { field: where },
    });
}
