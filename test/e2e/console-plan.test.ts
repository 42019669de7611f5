/**
 * Deciding a plan in the console over real HTTP: approve with a fresh authenticator code (step-up) runs
 * the plan through the API's service, audited as the person and their session; a wrong or reused code,
 * the subject, and a second decision by the same person are refused; deny with a reason; a plan needing
 * two people waits for the second.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { hashSessionToken } from '../../src/auth/sign-in.js';
import { requestRestore, setRestorePolicy } from '../../src/response/restores.js';
import { findOpenContainment } from '../../src/store/containments.js';
import { findPlan } from '../../src/store/plans.js';
import { findLiveSessionByTokenHash } from '../../src/store/sessions.js';
import { findUserById } from '../../src/store/users.js';
import { describeBackends } from '../support/backends.js';
import { openPlanSuite, type ConsoleClient, type ConsoleSuite } from '../support/console.js';
import { auditTrail, testCtx } from '../support/fixtures.js';
import type { PlanMaker } from '../support/pending-plans.js';

describeBackends('console: deciding a plan', (backend) => {
  let suite: ConsoleSuite;
  let plans: PlanMaker;
  let alice: ConsoleClient;
  let bob: ConsoleClient;

  beforeAll(async () => {
    ({ suite, plans, alice } = await openPlanSuite(backend, [
      ['alice', 'ADMIN'],
      ['bob', 'ADMIN'],
      ['sam', 'ADMIN'],
      ['tom', 'MEMBER'],
      ['uma', 'MEMBER'],
      ['val', 'MEMBER'],
    ]));
    bob = await suite.signIn('bob');
  });
  afterAll(() => suite?.close());

  const digestOf = (body: string) => /name="action_digest" value="([0-9a-f]{64})"/.exec(body)?.[1];
  const sessionOf = async (client: ConsoleClient) => {
    const hash = hashSessionToken(client.cookies.get('__Host-cordon')!);
    return (await findLiveSessionByTokenHash(suite.core.database.db, hash))!.id;
  };

  it('approves with a fresh code: the plan executes, audited as the person and their session', async () => {
    const { plan } = await plans.signal('tom@test.example');
    const shown = await alice.page(`/console/plans/${plan!.id}`);
    expect(shown.status).toBe(200);
    expect(shown.body).toContain('id="approve-code"');
    expect(shown.body).toContain('impossible travel &lt;b&gt;');
    expect(digestOf(shown.body)).toBe(plan!.action_digest);
    const decided = await alice.post(`/console/plans/${plan!.id}/decisions`, {
      decision: 'approve',
      reason: 'confirmed with the SOC',
      action_digest: digestOf(shown.body)!,
      totp: await suite.totp('alice'),
    });
    expect(decided).toMatchObject({ status: 303, location: `/console/plans/${plan!.id}?done=approve` });
    const after = await alice.page(decided.location!);
    expect(after.body).toContain('You approved the plan: it executed.');
    const stored = (await findPlan(suite.core.database.db, suite.accountId, plan!.id))!;
    expect(stored.status).toBe('executed');
    expect(after.body).toContain(`<a href="/console/containments/${stored.containment_id}">`);
    expect(after.body).not.toContain('id="approve-code"');
    expect((await findUserById(suite.core.database.db, suite.accountId, suite.people.tom!.id))!.state).toBe(
      'SUSPENDED',
    );
    const session = await sessionOf(alice);
    const trail = await auditTrail(suite.core, suite.accountId);
    const by = { actor_type: 'user', actor_id: suite.people.alice!.id, outcome: 'changed' };
    const stepUp = trail.find((e) => e.action === 'user.step_up' && e.actor_id === suite.people.alice!.id);
    expect(stepUp).toMatchObject({ ...by, details: { purpose: { type: 'plan', id: plan!.id } } });
    const approve = trail.find((e) => e.action === 'plan.approve' && e.target_id === plan!.id);
    expect(approve).toMatchObject({ ...by, details: { reason: 'confirmed with the SOC', plan_status: 'executed' } });
    expect(approve!.authz).toMatchObject({ method: 'session', session_id: session, via: 'console' });
  });

  it('shows a restore waiting for a second person, and restores when they approve', async () => {
    const db = suite.core.database.db;
    const containment = (await findOpenContainment(db, suite.accountId, suite.people.tom!.id))!;
    await setRestorePolicy(suite.core.response, testCtx, suite.accountId, {
      restore_approvals: 2,
      approver_group_id: null,
    });
    const aliceId = suite.people.alice!.id;
    const asked = await requestRestore(
      suite.core.response,
      {
        userId: aliceId,
        role: 'ADMIN',
        sessionId: await sessionOf(alice),
        ctx: { actor: { type: 'user', id: aliceId }, authz: { method: 'session', session_id: await sessionOf(alice) } },
      },
      suite.accountId,
      containment.id,
      'restored',
    );
    expect(asked.status).toBe('pending_approval');
    const planId = asked.plan.id;
    const inbox = (await bob.page('/console/inbox')).body;
    const card = inbox.slice(inbox.indexOf(`id="plan-${planId}"`));
    expect(card).toContain(`Restore <a href="/console/users/${suite.people.tom!.id}">tom</a>`);
    expect(card).toContain('reactivate the user, restoring the role and groups from the containment snapshot');
    expect(card).toContain('<span class="approvals">1 of 2</span>');
    expect(card).toContain('alice &lt;alice@test.example&gt;');
    expect(card).toContain(`<a href="/console/containments/${containment.id}">`);
    expect((await alice.page(`/console/plans/${planId}`)).body).toContain(
      'You asked for this plan: other people decide it.',
    );
    const digest = digestOf((await bob.page(`/console/plans/${planId}`)).body)!;
    const decided = await bob.post(`/console/plans/${planId}/decisions`, {
      decision: 'approve',
      reason: 'false alarm, talked to tom',
      action_digest: digest,
      totp: await suite.totp('bob'),
    });
    expect(decided.status).toBe(303);
    expect((await bob.page(decided.location!)).body).toContain('You approved the plan: it executed.');
    expect((await findUserById(db, suite.accountId, suite.people.tom!.id))!.state).toBe('ACTIVE');
    await setRestorePolicy(suite.core.response, testCtx, suite.accountId, {
      restore_approvals: 1,
      approver_group_id: null,
    });
  });

  it('refuses a wrong code and a reused one, and the plan stays pending', async () => {
    const { plan } = await plans.signal('uma@test.example');
    const digest = digestOf((await bob.page(`/console/plans/${plan!.id}`)).body)!;
    const attempt = (totp: string) =>
      bob.post(`/console/plans/${plan!.id}/decisions`, {
        decision: 'approve',
        reason: 'ok',
        action_digest: digest,
        totp,
      });
    const wrong = await attempt('000000');
    expect(wrong.status).toBe(403);
    expect(wrong.body).toContain('step_up_failed');
    // A code spent once (here by a step-up that did pass, then a decision refused for its digest) is spent.
    const code = await suite.totp('bob');
    const spent = await bob.post(`/console/plans/${plan!.id}/decisions`, {
      decision: 'approve',
      reason: 'ok',
      action_digest: '0'.repeat(64),
      totp: code,
    });
    expect(spent.status).toBe(400);
    expect(spent.body).toContain('digest_mismatch');
    const reused = await attempt(code);
    expect(reused.status).toBe(403);
    expect(reused.body).toContain('step_up_failed');
    expect((await findPlan(suite.core.database.db, suite.accountId, plan!.id))!.status).toBe('pending_approval');
    const trail = await auditTrail(suite.core, suite.accountId);
    expect(trail.filter((e) => e.action === 'user.step_up' && e.outcome === 'refused')).toHaveLength(2);
  });

  it('shows the subject no button, and refuses their posted approval (403, audited)', async () => {
    const { plan } = await plans.signal('sam@test.example');
    const sam = await suite.signIn('sam');
    const shown = await sam.page(`/console/plans/${plan!.id}`);
    expect(shown.status).toBe(200);
    expect(shown.body).toContain('You are the subject of this plan: other people decide it.');
    expect(shown.body).not.toContain('<button type="submit">Approve</button>');
    expect(shown.body).not.toContain('name="action_digest"');
    const inbox = (await sam.page('/console/inbox')).body;
    const card = inbox.slice(inbox.indexOf(`id="plan-${plan!.id}"`));
    expect(card.slice(0, card.indexOf('</article>'))).toContain('You are the subject of this plan');
    expect(card.slice(0, card.indexOf('</article>'))).not.toContain('Review and decide');
    const posted = await sam.post(`/console/plans/${plan!.id}/decisions`, {
      decision: 'approve',
      reason: 'it was me',
      action_digest: plan!.action_digest!,
      totp: await suite.totp('sam'),
    });
    expect(posted.status).toBe(403);
    expect(posted.body).toContain('not_an_approver: subject: nobody decides a plan about themselves');
    expect((await findPlan(suite.core.database.db, suite.accountId, plan!.id))!.status).toBe('pending_approval');
    const trail = await auditTrail(suite.core, suite.accountId);
    const refused = trail.find((e) => e.action === 'plan.approve' && e.target_id === plan!.id);
    expect(refused).toMatchObject({
      actor_type: 'user',
      actor_id: suite.people.sam!.id,
      outcome: 'refused',
      details: { code: 'NOT_AN_APPROVER' },
    });
    expect(refused!.authz).toMatchObject({ method: 'session', session_id: await sessionOf(sam), via: 'console' });
  });

  it('denies with a reason, and waits for a second person where two are needed', async () => {
    const { plan } = await plans.signal('val@test.example', { playbook: 'needs-two' });
    const digest = digestOf((await alice.page(`/console/plans/${plan!.id}`)).body)!;
    const first = await alice.post(`/console/plans/${plan!.id}/decisions`, {
      decision: 'approve',
      reason: 'looks bad',
      action_digest: digest,
      totp: await suite.totp('alice'),
    });
    expect(first.status).toBe(303);
    const waiting = await alice.page(first.location!);
    expect(waiting.body).toContain('You approved the plan: waiting for 1 more approval.');
    expect(waiting.body).toContain('You have decided this plan');
    expect(waiting.body).not.toContain('id="deny-reason"');
    const denied = await bob.post(`/console/plans/${plan!.id}/decisions`, {
      decision: 'deny',
      reason: 'a known trip, travel booked',
      action_digest: digestOf((await bob.page(`/console/plans/${plan!.id}`)).body)!,
    });
    expect(denied).toMatchObject({ status: 303, location: `/console/plans/${plan!.id}?done=deny` });
    const page = await bob.page(denied.location!);
    expect(page.body).toContain('You denied the plan.');
    expect(page.body).toContain('<td>a known trip, travel booked</td>');
    expect((await findPlan(suite.core.database.db, suite.accountId, plan!.id))!.status).toBe('denied');
    const empty = await bob.post(`/console/plans/${plan!.id}/decisions`, {
      decision: 'deny',
      reason: ' ',
      action_digest: digest,
    });
    expect(empty.status).toBe(400);
  });
});
