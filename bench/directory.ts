/**
 * Directory and audit throughput: suspend+reactivate service calls (1 and 8 callers), the lag from
 * commit to sequenced index, and group-committed records (16 callers). Prints JSON.
 *   npx tsx bench/directory.ts        (BENCH_BACKENDS=pglite,postgres, BENCH_SECONDS=5)
 */
import { sql } from 'kysely';
import type { CallContext } from '../src/audit/entry.js';
import { createAccount } from '../src/directory/accounts.js';
import { newId } from '../src/ids.js';
import { reactivateUser, suspendUser } from '../src/directory/user-state.js';
import { insertUsersWithGroups } from '../src/directory/users.js';
import { BENCH_BACKENDS, freshDatabase, hammer, openCore, percentile, round, summarize } from './support.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ctx: CallContext = { actor: { type: 'operator', id: 'bench' }, authz: { method: 'bench' } };
const results: Record<string, unknown> = {};

for (const backend of BENCH_BACKENDS) {
  const database = await freshDatabase(backend, 'directory');
  const core = await openCore(database.env);
  const { account } = await createAccount(core.directory, ctx, {
    name: 'Bench',
    owner: { email: 'o@bench.example', display_name: 'O' },
  });
  const users = await core.audit.transact((trx) =>
    insertUsersWithGroups(
      core.directory,
      trx,
      ctx,
      account.id,
      Array.from({ length: 16 }, (_, i) => ({ email: `u${i}@bench.example`, display_name: `U${i}` })),
    ),
  );
  // Each call alternates the user's state. As in the counter-row comparison, every suspension
  // revokes 3 live sessions: after each reactivation, 3 new sessions are inserted. That insert is not
  // timed as a call, but it runs inside the measured wall time, so calls per second stay conservative.
  const reopenSessions = (userId: string) =>
    core.database.db
      .insertInto('sessions')
      .values([0, 1, 2].map(() => ({ account_id: account.id, id: newId(), user_id: userId, kind: 'web' as const })))
      .execute();
  const cycle = async (userId: string, i: number) => {
    if (i % 2 === 0) {
      const { sessionsRevoked } = await suspendUser(core.directory, ctx, account.id, userId);
      if (sessionsRevoked.length !== 3) throw new Error(`expected 3 sessions revoked, got ${sessionsRevoked.length}`);
    } else {
      await reactivateUser(core.directory, ctx, account.id, userId);
    }
  };
  for (const u of users) await reopenSessions(u.id);

  const since = new Date();
  const single = summarize(
    await hammer(
      1,
      SECONDS,
      (_c, i) => cycle(users[0]!.id, i),
      (_c, i) => (i % 2 ? reopenSessions(users[0]!.id) : undefined),
    ),
    SECONDS,
  );
  const eight = summarize(
    await hammer(
      8,
      SECONDS,
      (c, i) => cycle(users[c + 1]!.id, i),
      (c, i) => (i % 2 ? reopenSessions(users[c + 1]!.id) : undefined),
    ),
    SECONDS,
  );
  await core.audit.sequencer.drain();
  const lag = await sql<{ ms: number }>`
    SELECT extract(epoch FROM (sequenced_at - recorded_at)) * 1000 AS ms
    FROM audit_entries WHERE account_id = ${account.id} AND recorded_at >= ${since}
      AND action IN ('user.suspend', 'user.reactivate')`.execute(core.database.db);
  const lags = lag.rows.map((r) => Number(r.ms)).sort((a, b) => a - b);

  const grouped = summarize(
    await hammer(16, SECONDS, (c, i) =>
      core.audit.record({
        accountId: account.id,
        ctx,
        action: 'user.read',
        target: { type: 'user', id: users[c % users.length]!.id },
        outcome: 'read',
        details: { i },
      }),
    ),
    SECONDS,
  );

  results[backend] = {
    suspend_reactivate_1_caller: single,
    suspend_reactivate_8_callers: eight,
    commit_to_sequenced_lag_ms: {
      entries: lags.length,
      p50: round(percentile(lags, 50)),
      p99: round(percentile(lags, 99)),
      max: round(lags.at(-1) ?? NaN),
    },
    group_commit_16_callers: grouped,
  };
  await core.close();
  await database.drop();
}

console.log(JSON.stringify({ bench: 'directory', seconds_per_run: SECONDS, node: process.version, results }, null, 2));
