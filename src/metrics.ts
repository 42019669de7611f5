/**
 * The Prometheus metrics of one process: HTTP activity per route pattern (never a raw path, so the
 * label sets stay bounded), refusals of callers that did not authenticate, signal intake, webhook
 * deliveries, what the audit entries this process numbered say (suspensions, plans, breaker trips,
 * remote steps), and the state gauges read at each scrape (metrics-state.ts).
 *
 * Every label takes its value from a closed set (an action, a status, an error code, a target kind),
 * never from what a caller sent: a value outside the set is counted as `other`.
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { stateGauges, type StateSources } from './metrics-state.js';

/** What the metrics read of a numbered audit entry (store/audit.ts NumberedEntry). */
export interface NumberedEntryFacts {
  action: string;
  outcome: string;
  actor_type: string;
  target_id: string;
  details: Record<string, unknown>;
}

/** A signal intake's source, as labels: its format and how it authenticates (`unknown`: no such source). */
export interface IntakeLabels {
  format: string;
  auth: string;
}

export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  unauthenticatedRefusals: Counter<'status'>;
  /** Signals answered 200, as stored or as a duplicate. */
  countSignalReceived(source: IntakeLabels, duplicate: boolean): void;
  /** Signal intake calls refused, by the error's code. */
  countSignalRefused(source: IntakeLabels, code: string): void;
  /** A webhook delivery's recorded attempt (or drop), by the state it left the delivery in. */
  countWebhookSettled(state: string, attempted: boolean): void;
  /** Counts entries as the sequencer numbers them (once each, whichever node numbers them). */
  countNumbered(entries: readonly NumberedEntryFacts[]): void;
  /** Names where the state gauges read from (the core, once built). */
  watch(sources: StateSources): void;
}

// The closed sets of storage/schema.ts (PlanStatus, TargetKind, StepStatus) and of the intake formats; a
// leaf module, this one does not import them.
const closedSet = (members: Record<string, true>) => {
  const set = new Set<string>(Object.keys(members));
  return (value: unknown): string => (typeof value === 'string' && set.has(value) ? value : 'other');
};
const planStatus = closedSet({
  executed: true,
  pending_approval: true,
  refused: true,
  duplicate: true,
  no_action: true,
  notified: true,
  failed: true,
  denied: true,
  expired: true,
  void: true,
});
const targetKind = closedSet({ onepassword: true, scim: true, gtr: true });
const stepStatus = closedSet({
  pending: true,
  verified: true,
  failed: true,
  protected: true,
  gone: true,
  cancelled: true,
});
const stepOperation = closedSet({ suspend: true, reactivate: true });
const intakeFormat = closedSet({ canonical: true, ocsf: true, ecs: true, splunk: true, azure: true, unknown: true });
const intakeAuth = closedSet({ oauth: true, hmac: true, url_token: true, unknown: true });

/**
 * The status a numbered entry moves a plan to, if it moves one: made (`plan.create`, a restore's
 * `containment.restore_request`), decided by its last approval or a denial, expired, or void.
 */
const PLAN_MOVES: Record<string, (entry: NumberedEntryFacts) => unknown> = {
  'plan.create': (entry) => entry.details.status,
  'plan.approve': (entry) => (entry.details.plan_status === 'pending_approval' ? undefined : entry.details.plan_status),
  'plan.deny': () => 'denied',
  'plan.expire': () => 'expired',
  'plan.void': () => 'void',
  'containment.restore_request': (entry) =>
    Number(entry.details.approvals) < Number(entry.details.approvals_required) ? 'pending_approval' : 'executed',
};

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Counter<L>({ name, help, labelNames, registers });
  const auditEntries = counter(
    'cordon_audit_entries_total',
    'Audit entries numbered by this process, by action and outcome (sum over nodes for the whole)',
    ['action', 'outcome'],
  );
  const suspensions = counter(
    'cordon_user_suspensions_total',
    'Users suspended (user.suspend entries that changed a user), by who suspended them: responder, app, user, ' +
      'operator',
    ['actor_type'],
  );
  const plans = counter(
    'cordon_plans_total',
    'Plans reaching a status: made in it, or moved to it by their last approval, a denial, expiry or voiding',
    ['status'],
  );
  const breakerTrips = counter(
    'cordon_breaker_trips_total',
    'Blast-radius breakers tripped, by scope: account or playbook',
    ['scope'],
  );
  const steps = counter(
    'cordon_containment_steps_total',
    "Containments' remote steps ended, by target kind, operation and status",
    ['kind', 'operation', 'status'],
  );
  const signalsReceived = counter(
    'cordon_signals_received_total',
    'Signals accepted by this process, by source format and authentication, stored or duplicate',
    ['format', 'auth', 'outcome'],
  );
  const signalsRefused = counter(
    'cordon_signals_refused_total',
    'Signal intake calls this process refused, by source format and authentication and the error code',
    ['format', 'auth', 'reason'],
  );
  const webhookAttempts = counter(
    'cordon_webhook_attempts_total',
    'Webhook delivery attempts this process recorded, by result: ok (2xx) or error',
    ['result'],
  );
  const webhookDeliveries = counter(
    'cordon_webhook_deliveries_total',
    'Webhook deliveries ended: delivered, failed (gave up retrying) or dropped (subscription disabled or removed)',
    ['outcome'],
  );
  const { watch } = stateGauges(registry);
  const intake = (source: IntakeLabels) => ({ format: intakeFormat(source.format), auth: intakeAuth(source.auth) });
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
    countSignalReceived(source, duplicate) {
      signalsReceived.inc({ ...intake(source), outcome: duplicate ? 'duplicate' : 'stored' });
    },
    countSignalRefused(source, code) {
      // Error codes are the registry's (errors.ts), a closed set.
      signalsRefused.inc({ ...intake(source), reason: /^[A-Z_]{1,40}$/.test(code) ? code : 'other' });
    },
    countWebhookSettled(state, attempted) {
      if (attempted) webhookAttempts.inc({ result: state === 'delivered' ? 'ok' : 'error' });
      if (state === 'delivered' || state === 'failed' || state === 'dropped') webhookDeliveries.inc({ outcome: state });
    },
    countNumbered(entries) {
      for (const entry of entries) {
        const { action, details } = entry;
        auditEntries.inc({ action, outcome: entry.outcome });
        // A step's entry says how it ended whatever its outcome (failed ones are `unchanged`).
        if (action === 'target.step')
          steps.inc({
            kind: targetKind(details.kind),
            operation: stepOperation(details.operation),
            status: stepStatus(details.status),
          });
        if (entry.outcome !== 'changed') continue;
        if (action === 'user.suspend') suspensions.inc({ actor_type: entry.actor_type });
        const moved = Object.hasOwn(PLAN_MOVES, action) ? PLAN_MOVES[action]!(entry) : undefined;
        if (moved !== undefined) plans.inc({ status: planStatus(moved) });
        if (action === 'automation.breaker_trip')
          breakerTrips.inc({ scope: entry.target_id === 'account' ? 'account' : 'playbook' });
        if (action === 'webhook.disable' || action === 'webhook.remove') {
          const dropped = Number(details.deliveries_dropped);
          if (dropped > 0) webhookDeliveries.inc({ outcome: 'dropped' }, dropped);
        }
      }
    },
    watch,
  };
}
