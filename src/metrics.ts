/**
 * The Prometheus metrics of one process: HTTP activity per route pattern (never a raw path, so the
 * label sets stay bounded), refusals of callers that did not authenticate, and the audit entries this
 * process numbered, suspensions among them.
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** What the metrics read of a numbered audit entry (store/audit.ts NumberedEntry). */
export interface NumberedEntryFacts {
  action: string;
  outcome: string;
  actor_type: string;
}

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  unauthenticatedRefusals: Counter<'status'>;
  /** Counts entries as the sequencer numbers them (once each, whichever node numbers them). */
  countNumbered(entries: readonly NumberedEntryFacts[]): void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const auditEntries = new Counter({
    name: 'cordon_audit_entries_total',
    help: 'Audit entries numbered by this process, by action and outcome (sum over nodes for the whole)',
    labelNames: ['action', 'outcome'],
    registers,
  });
  const suspensions = new Counter({
    name: 'cordon_user_suspensions_total',
    help:
      'Users suspended (user.suspend entries that changed a user), by who suspended them: responder, app, user, ' +
      'operator',
    labelNames: ['actor_type'],
    registers,
  });
  return {
    registry,
    httpRequests: new Counter({
      name: 'cordon_http_requests_total',
      help: 'HTTP requests answered, by route pattern and status (401s included)',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'cordon_http_request_duration_seconds',
      help: 'HTTP request latency by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    unauthenticatedRefusals: new Counter({
      name: 'cordon_http_unauthenticated_refusals_total',
      help:
        'Requests refused to callers that did not authenticate (tallied into the system log), by status; 429 once ' +
        'over the per-address limit',
      labelNames: ['status'],
      registers,
    }),
    countNumbered(entries) {
      for (const entry of entries) {
        auditEntries.inc({ action: entry.action, outcome: entry.outcome });
        if (entry.action === 'user.suspend' && entry.outcome === 'changed')
          suspensions.inc({ actor_type: entry.actor_type });
      }
    },
  };
}
