import { sql } from 'kysely';
import type { OpsGauges } from '../metrics-state.js';
import type { Executor } from './executor.js';

/** Most inbox entries a scrape counts: past it, the sequencer is far behind and the exact number matters little. */
export const UNSEQUENCED_COUNT_CAP = 100_000;

/**
 * One statement, each part on an index or a small table: pending plans on plans_expiry (partial), the
 * tripped breakers (a row each while tripped), at most UNSEQUENCED_COUNT_CAP inbox rows, each log's latest
 * checkpoint by its primary key (as the checkpointer reads them), and the webhook outbox on
 * webhook_deliveries_due (partial).
 */
export async function readOpsGauges(db: Executor): Promise<OpsGauges> {
  const { rows } = await sql<OpsGauges>`
    SELECT p.pending_approvals, p.oldest_pending_age, p.next_expiry, b.breakers_tripped, i.unsequenced,
           i.oldest_unsequenced_age, k.checkpoint_age, k.checkpoint_lag, w.webhook_backlog
    FROM (
      SELECT count(*)::int AS pending_approvals,
             extract(epoch FROM now() - min(created_at))::float8 AS oldest_pending_age,
             extract(epoch FROM min(expires_at) - now())::float8 AS next_expiry
      FROM plans WHERE status = 'pending_approval'
    ) p, (
      SELECT count(*)::int AS breakers_tripped FROM breakers
    ) b, (
      SELECT count(*)::int AS unsequenced,
             extract(epoch FROM now() - min(recorded_at))::float8 AS oldest_unsequenced_age
      FROM (SELECT recorded_at FROM audit_inbox LIMIT ${UNSEQUENCED_COUNT_CAP}) waiting
    ) i, (
      SELECT extract(epoch FROM now() - max(c.signed_at))::float8 AS checkpoint_age,
             coalesce(extract(epoch FROM now() - min(e.sequenced_at))::float8, 0) AS checkpoint_lag
      FROM audit_logs l
      LEFT JOIN LATERAL (SELECT size, signed_at FROM audit_checkpoints WHERE account_id = l.account_id
        ORDER BY size DESC LIMIT 1) c ON true
      LEFT JOIN audit_entries e ON e.account_id = l.account_id AND e.idx = coalesce(c.size, 0)
        AND l.size > coalesce(c.size, 0)
    ) k, (
      SELECT count(*)::int AS webhook_backlog FROM webhook_deliveries WHERE state IN ('pending', 'delivering')
    ) w`.execute(db);
  return rows[0]!;
}
