/**
 * The gauges /metrics reads at scrape time (prom-client `collect()` callbacks): what stands in the
 * database, over every account (one statement per scrape, store/ops-gauges.ts), and this process's
 * group-commit queue. A scrape while the database is away still answers: the database's gauges are left
 * out and `cordon_metrics_database_up` is 0.
 */
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';

/** What /metrics reads from the database at each scrape, over every account (store/ops-gauges.ts reads them). */
export interface OpsGauges {
  pending_approvals: number;
  /** Seconds; null when nothing is pending. */
  oldest_pending_age: number | null;
  /** Seconds until the soonest pending approval expires (negative when overdue); null when none. */
  next_expiry: number | null;
  breakers_tripped: number;
  unsequenced: number;
  /** Seconds since the oldest entry still waiting for its index was written; null when none waits. */
  oldest_unsequenced_age: number | null;
  /** Seconds since the newest signed checkpoint of any log; null before the first. */
  checkpoint_age: number | null;
  /** Seconds since the oldest numbered entry that no signed checkpoint covers yet was numbered (0: all covered). */
  checkpoint_lag: number;
  webhook_backlog: number;
}

/** Where the state gauges come from, known once the core is built. */
export interface StateSources {
  readOpsGauges(): Promise<OpsGauges>;
  /** Records waiting in this process's group commit for a batch. */
  groupCommitDepth(): number;
  logger?: Logger | undefined;
}

type Reading = OpsGauges | undefined;

/** [name, help, the value in a reading (null: no sample)]. */
const DATABASE_GAUGES: Array<[string, string, (r: OpsGauges) => number | null]> = [
  ['cordon_approvals_pending', 'Plans waiting for approvals, over every account', (r) => r.pending_approvals],
  [
    'cordon_approvals_oldest_pending_age_seconds',
    'How long the oldest plan still waiting for approvals has waited (0 when none waits)',
    (r) => r.oldest_pending_age ?? 0,
  ],
  [
    'cordon_approvals_next_expiry_seconds',
    'Seconds until the soonest pending plan expires without a decision (no sample when none is pending)',
    (r) => r.next_expiry,
  ],
  ['cordon_breakers_tripped', 'Blast-radius breakers tripped now, over every account', (r) => r.breakers_tripped],
  [
    'cordon_audit_unsequenced_entries',
    'Audit entries committed but not yet numbered by the sequencer (counted up to 100000)',
    (r) => r.unsequenced,
  ],
  [
    'cordon_audit_sequencer_lag_seconds',
    'Age of the oldest audit entry still waiting for its index (0 when none waits)',
    (r) => r.oldest_unsequenced_age ?? 0,
  ],
  [
    'cordon_audit_checkpoint_age_seconds',
    'Seconds since the newest signed checkpoint of any audit log (no sample before the first)',
    (r) => r.checkpoint_age,
  ],
  [
    'cordon_audit_checkpoint_lag_seconds',
    'Age of the oldest numbered audit entry that no signed checkpoint covers yet (0 when all are covered)',
    (r) => r.checkpoint_lag,
  ],
  [
    'cordon_webhook_deliveries_pending',
    'Webhook deliveries waiting to be sent or retried (the outbox), over every account',
    (r) => r.webhook_backlog,
  ],
];

/** Registers the state gauges on `registry`; they read nothing until `watch` names their sources. */
export function stateGauges(registry: Registry): { watch: (sources: StateSources) => void } {
  let sources: StateSources | undefined;
  // The gauges of one scrape share one reading: prom-client collects every metric in the same turn.
  let reading: Promise<Reading> | undefined;
  const read = (): Promise<Reading> =>
    (reading ??= (sources?.readOpsGauges() ?? Promise.resolve(undefined))
      .catch((error: unknown) => {
        sources?.logger?.warn({ err: error }, 'metrics: reading the database gauges failed');
        return undefined;
      })
      .finally(() => {
        reading = undefined;
      }));
  const registers = [registry];
  new Gauge({
    name: 'cordon_metrics_database_up',
    help: "1 when this scrape read the database's gauges, 0 when the database did not answer",
    registers,
    async collect() {
      this.set(sources && (await read()) ? 1 : 0);
    },
  });
  for (const [name, help, value] of DATABASE_GAUGES) {
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        const r = await read();
        const v = r === undefined ? null : value(r);
        if (v === null) this.remove();
        else this.set(v);
      },
    });
  }
  new Gauge({
    name: 'cordon_audit_group_commit_queue_depth',
    help: "Audit records waiting in this process's group commit for a batch",
    registers,
    collect() {
      this.set(sources?.groupCommitDepth() ?? 0);
    },
  });
  return {
    watch: (given) => {
      sources = given;
    },
  };
}
