/**
 * `cordon targets test`: the target's connectivity check (for 1Password, a token and ListUsers with
 * max_page_size=1), recorded as `target.test` with its latency or the target's exact error.
 */
import type { CallContext } from '../audit/entry.js';
import { findTarget } from '../store/targets.js';
import { isTargetError, type HealthReport } from './connector.js';
import { unrecorded } from './http.js';
import { notFound, openConnector, type TargetDeps } from './registry.js';

/** Runs the target's connectivity check; records `target.test` with the latency or the target's error. */
export async function testTarget(
  deps: TargetDeps,
  ctx: CallContext,
  accountId: string,
  idOrName: string,
): Promise<HealthReport> {
  const row = await findTarget(deps.db, accountId, idOrName);
  if (!row) throw notFound();
  const started = performance.now();
  let report: HealthReport;
  try {
    report = await unrecorded(() => openConnector(deps, row).health());
  } catch (error) {
    const latency_ms = Math.round(performance.now() - started);
    report = isTargetError(error)
      ? { ok: false, latency_ms, error: error.details }
      : {
          ok: false,
          latency_ms,
          error: { class: 'fatal', status: null, code: null, message: errorMessage(error), request_id: null },
        };
  }
  const result = { ok: report.ok, latency_ms: report.latency_ms, ...(report.error ? { error: report.error } : {}) };
  await deps.audit.record({
    accountId,
    ctx,
    action: 'target.test',
    target: { type: 'target', id: row.id },
    outcome: 'read',
    details: { name: row.name, kind: row.kind, ...result },
  });
  return result;
}

export function errorMessage(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 500);
}
