/**
 * `/metrics` (issue 18 §5) in a world where every series has a value: a plan waiting for approval (its
 * webhook delivered), signals received, duplicated and refused over HTTP, a breaker tripped, remote steps
 * ended on two targets, entries the sequencer has not numbered yet, checkpoints an hour old, and records
 * waiting in the group commit.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildMetricsServer } from '../../src/http/metrics-server.js';
import { newId } from '../../src/ids.js';
import { createApp } from '../../src/oauth/apps.js';
import { setBreakerCap } from '../../src/response/automation.js';
import { receiveSignal } from '../../src/response/engine.js';
import { applyPlaybooks } from '../../src/response/playbooks.js';
import { describeBackends } from '../support/backends.js';
import { appAccessToken, mintSessionToken, seedAccount, testCtx } from '../support/fixtures.js';
import { planMaker } from '../support/pending-plans.js';
import { samples } from '../support/prometheus.js';
import { useServer } from '../support/server.js';
import { stepWorld, targetError } from '../support/step-world.js';
import { startReceiver, type Receiver } from '../support/webhook-receiver.js';

describeBackends('metrics of the product', (backend) => {
  const suite = useServer(backend);
  let receiver: Receiver;
  let scrape: () => Promise<string>;

  beforeAll(async () => {
    receiver = await startReceiver();
    // The steps run on scripted targets, by the test's own worker (test/support/step-world.ts).
    await suite.core.stepWorker.stop();
    await suite.core.syncWorker.stop();
    const listener = buildMetricsServer(suite.core);
    scrape = async () => (await listener.inject('/metrics')).body;
  });
  afterAll(async () => receiver?.close());

  it('exposes approvals, signals, plans, breaker trips, steps and webhook deliveries with their values', async () => {
    const { core, server } = suite;
    const seed = await seedAccount(core, 2);
    const owner = { authorization: `Bearer ${await mintSessionToken(core, seed.owner)}` };
    const hooks = await server.inject({
      method: 'POST',
      url: `/v1/accounts/${seed.accountId}/webhooks`,
      headers: owner,
      payload: { url: receiver.url, events: ['plan.pending_approval'] },
    });
    expect(hooks.statusCode, hooks.body).toBe(201);
    const maker = await planMaker(core, seed.accountId);
    expect((await maker.signal(seed.members[0]!.email)).plan!.status).toBe('pending_approval');

    // Signals over HTTP: one stored, the same again (a duplicate), an unknown source, a bad signature.
    const { app, clientSecret } = await createApp(core.directory, testCtx, seed.accountId, {
      name: 'siem',
      permissions: ['signals:write'],
    });
    const bearer = { authorization: `Bearer ${await appAccessToken(server, app.client_id, clientSecret!)}` };
    const alert = {
      external_id: 'a-1',
      type: 'nothing.matches',
      title: 'Odd sign-in',
      severity: 'low',
      confidence: 0.5,
      subject: { email: seed.members[1]!.email },
      observed_time: new Date().toISOString(),
    };
    for (const expected of [200, 200]) {
      const res = await server.inject({
        method: 'POST',
        url: `/v1/accounts/${seed.accountId}/signals`,
        headers: bearer,
        payload: alert,
      });
      expect(res.statusCode, res.body).toBe(expected);
    }
    const sources = `/v1/accounts/${seed.accountId}/sources`;
    const unknown = await server.inject({ method: 'POST', url: `${sources}/${newId()}/signals`, payload: alert });
    const unsigned = await server.inject({
      method: 'POST',
      url: `${sources}/${maker.sourceId}/signals`,
      payload: alert,
    });
    expect([unknown.statusCode, unsigned.statusCode]).toEqual([404, 401]);

    // A breaker: a cap of one suspension, and a second subject.
    const storm = await seedAccount(core, 2);
    await setBreakerCap(core.response, testCtx, storm.accountId, { max_actions: 1, window_seconds: 600 });
    await applyPlaybooks(core.response, testCtx, storm.accountId, [
      { name: 'burst', match: { types: ['burst'] }, action: 'suspend', mode: 'auto' },
    ]);
    const burst = (email: string) =>
      receiveSignal(core.response, {
        accountId: storm.accountId,
        sourceId: 'test',
        signal: { ...alert, external_id: email, type: 'burst', subject: { email }, tags: [], severity: 'high' },
        rawText: '{}',
        ctx: testCtx,
      });
    expect((await burst(storm.members[0]!.email)).plan!.status).toBe('executed');
    expect((await burst(storm.members[1]!.email)).plan!.status).toBe('pending_approval');

    // Remote steps: verified on the 1Password target, refused (protected) by the SCIM one.
    const w = await stepWorld(core, ['op', 'sc']);
    w.fakes.get(w.targets.sc)!.fail('suspend', targetError('protected', 403));
    expect((await w.signal(w.members[0]!.email)).plan!.status).toBe('executed');
    await w.worker().pass();

    await core.audit.sequencer.drain();
    await receiver.waitFor(1, 60_000); // a bound for a loaded machine, not a timing assertion
    await core.webhookWorker.pass(); // the attempt is recorded once the pass that sent it ends
    const text = await scrape();
    const values = (prefix: string) => samples(text, prefix);
    expect(values('cordon_approvals_')).toEqual({
      cordon_approvals_pending: 2,
      cordon_approvals_oldest_pending_age_seconds: expect.any(Number),
      cordon_approvals_next_expiry_seconds: expect.any(Number),
    });
    // Approval-mode plans wait CORDON_APPROVAL_TTL_SECONDS (1800 s by default) at most.
    expect(values('cordon_approvals_').cordon_approvals_next_expiry_seconds).toBeGreaterThan(0);
    expect(values('cordon_approvals_').cordon_approvals_next_expiry_seconds).toBeLessThanOrEqual(1800);
    expect(values('cordon_approvals_').cordon_approvals_oldest_pending_age_seconds).toBeGreaterThanOrEqual(0);
    expect(values('cordon_signals_')).toEqual({
      'cordon_signals_received_total{format="canonical",auth="oauth",outcome="stored"}': 1,
      'cordon_signals_received_total{format="canonical",auth="oauth",outcome="duplicate"}': 1,
      'cordon_signals_refused_total{format="unknown",auth="unknown",reason="SOURCE_NOT_FOUND"}': 1,
      'cordon_signals_refused_total{format="canonical",auth="hmac",reason="SOURCE_AUTH_FAILED"}': 1,
    });
    expect(values('cordon_plans_total')).toEqual({
      'cordon_plans_total{status="pending_approval"}': 2,
      'cordon_plans_total{status="no_action"}': 1,
      'cordon_plans_total{status="executed"}': 2,
    });
    expect(values('cordon_breaker')).toEqual({
      'cordon_breaker_trips_total{scope="account"}': 1,
      cordon_breakers_tripped: 1,
    });
    expect(values('cordon_containment_steps_total')).toEqual({
      'cordon_containment_steps_total{kind="onepassword",operation="suspend",status="verified"}': 1,
      'cordon_containment_steps_total{kind="scim",operation="suspend",status="protected"}': 1,
    });
    expect(values('cordon_webhook_')).toEqual({
      'cordon_webhook_attempts_total{result="ok"}': 1,
      'cordon_webhook_deliveries_total{outcome="delivered"}': 1,
      cordon_webhook_deliveries_pending: 0,
    });
    expect(values('cordon_metrics_database_up')).toEqual({ cordon_metrics_database_up: 1 });
    // No id of an account, source, target or app reaches a label.
    for (const id of [seed.accountId, storm.accountId, w.accountId, maker.sourceId, w.targets.sc, app.client_id])
      expect(text).not.toContain(id);
  });

  it('exposes sequencer lag, checkpoint age and lag, and the group-commit queue', async () => {
    const { core } = suite;
    const db = core.database.db;
    // Nothing else writes meanwhile: the refusals' tally is flushed now, not when its window ends.
    await core.unauthenticatedRefusals.close();
    await core.checkpointer.stop();
    await core.audit.sequencer.drain();
    await core.checkpointer.pass();
    expect(samples(await scrape(), 'cordon_audit_')).toMatchObject({
      cordon_audit_unsequenced_entries: 0,
      cordon_audit_sequencer_lag_seconds: 0,
      cordon_audit_checkpoint_lag_seconds: 0,
      cordon_audit_group_commit_queue_depth: 0,
    });

    // Entries written while the sequencer stands still, ten minutes ago; checkpoints an hour old.
    await core.audit.sequencer.stop();
    const seed = await seedAccount(core, 0);
    await core.audit.settle();
    await sql`UPDATE audit_inbox SET recorded_at = recorded_at - interval '10 minutes'`.execute(db);
    await sql`UPDATE audit_checkpoints SET signed_at = signed_at - interval '1 hour'`.execute(db);
    const waiting = await sql<{ n: number }>`SELECT count(*)::int AS n FROM audit_inbox`.execute(db);
    const standing = samples(await scrape(), 'cordon_audit_');
    expect(waiting.rows[0]!.n).toBeGreaterThan(0);
    expect(standing.cordon_audit_unsequenced_entries).toBe(waiting.rows[0]!.n);
    expect(standing.cordon_audit_sequencer_lag_seconds).toBeGreaterThanOrEqual(600);
    expect(standing.cordon_audit_checkpoint_age_seconds).toBeGreaterThanOrEqual(3600);
    expect(standing.cordon_audit_checkpoint_lag_seconds).toBe(0);

    // Numbered now, twenty minutes ago say, and no checkpoint covers them.
    core.audit.sequencer.start();
    await core.audit.sequencer.drain();
    await sql`UPDATE audit_entries SET sequenced_at = sequenced_at - interval '20 minutes'
      WHERE account_id = ${seed.accountId}`.execute(db);
    const numbered = samples(await scrape(), 'cordon_audit_');
    expect(numbered.cordon_audit_unsequenced_entries).toBe(0);
    expect(numbered.cordon_audit_checkpoint_lag_seconds).toBeGreaterThanOrEqual(1200);
    core.checkpointer.start();

    // Records handed to the group commit in one turn wait for its batch together.
    const writes = [1, 2, 3].map((n) =>
      core.audit.record({
        accountId: seed.accountId,
        ctx: testCtx,
        action: 'user.list',
        target: { type: 'account', id: seed.accountId },
        outcome: 'read',
        details: { n },
      }),
    );
    const queued = await core.metrics.registry.getSingleMetricAsString('cordon_audit_group_commit_queue_depth');
    await Promise.all(writes);
    expect(samples(queued, 'cordon_audit_group_commit_queue_depth')).toEqual({
      cordon_audit_group_commit_queue_depth: 3,
    });
  });
});
