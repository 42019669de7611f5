/**
 * The state gauges without a database: one reading per scrape shared by every gauge, a gauge with
 * nothing to say left out, and a scrape that still answers while the database is away.
 */
import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.js';
import type { OpsGauges } from './metrics-state.js';

const READING: OpsGauges = {
  pending_approvals: 0,
  oldest_pending_age: null,
  next_expiry: null,
  breakers_tripped: 0,
  unsequenced: 4,
  oldest_unsequenced_age: 2.5,
  checkpoint_age: null,
  checkpoint_lag: 0,
  webhook_backlog: 1,
};

const lines = (text: string) =>
  text.split('\n').filter((line) => line.startsWith('cordon_') && !line.includes('_total'));

describe('state gauges', () => {
  it('read the database once per scrape, and leave out what has no value', async () => {
    const metrics = createMetrics();
    let reads = 0;
    metrics.watch({ readOpsGauges: () => (reads++, Promise.resolve(READING)), groupCommitDepth: () => 7 });
    const text = await metrics.registry.metrics();
    expect(reads).toBe(1);
    expect(lines(text).filter((line) => !line.startsWith('cordon_http'))).toEqual([
      'cordon_metrics_database_up 1',
      'cordon_approvals_pending 0',
      'cordon_approvals_oldest_pending_age_seconds 0',
      'cordon_breakers_tripped 0',
      'cordon_audit_unsequenced_entries 4',
      'cordon_audit_sequencer_lag_seconds 2.5',
      'cordon_audit_checkpoint_lag_seconds 0',
      'cordon_webhook_deliveries_pending 1',
      'cordon_audit_group_commit_queue_depth 7',
    ]);
    expect(text).toContain('# TYPE cordon_approvals_next_expiry_seconds gauge');
    await metrics.registry.metrics();
    expect(reads).toBe(2);
  });

  it('answer while the database is away: its gauges left out, cordon_metrics_database_up 0', async () => {
    const metrics = createMetrics();
    metrics.watch({ readOpsGauges: () => Promise.reject(new Error('connection refused')), groupCommitDepth: () => 0 });
    const text = await metrics.registry.metrics();
    expect(lines(text).filter((line) => !line.startsWith('cordon_http'))).toEqual([
      'cordon_metrics_database_up 0',
      'cordon_audit_group_commit_queue_depth 0',
    ]);
  });
});
