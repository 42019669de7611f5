/**
 * The containment pages over real HTTP: a record a signal opened shows its snapshot, steps, drift and
 * explain chain (each audit index a link); restoring and undoing a false positive from the page go through
 * the API's service as the person (the same entries, under their console session); the restore policy
 * makes a restore wait on a plan the page links to; no form without its CSRF token; MEMBERs and other
 * accounts see nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSessionToken } from '../../src/auth/sign-in.js';
import { createAccount } from '../../src/directory/accounts.js';
import { removeMember } from '../../src/directory/groups.js';
import { createUser } from '../../src/directory/users.js';
import { receiveSignal } from '../../src/response/engine.js';
import { mapSignal } from '../../src/response/intake/index.js';
import { applyPlaybooks } from '../../src/response/playbooks.js';
import { setRestorePolicy } from '../../src/response/restores.js';
import { findContainment } from '../../src/store/containments.js';
import { findLiveSessionByTokenHash } from '../../src/store/sessions.js';
import { listStepsOf } from '../../src/store/steps.js';
import { findUserById } from '../../src/store/users.js';
import { BACKENDS } from '../support/backends.js';
import type { ConsoleClient, ConsoleSuite } from '../support/console.js';
import { openContainingSuite, type Containing, type ContainingSuite } from '../support/console-containing.js';
import { auditTrail, testCtx } from '../support/fixtures.js';

describe.each(BACKENDS)('console containment pages (%s)', (backend) => {
  let suite: ConsoleSuite;
  let containing: Containing;
  let alice: ConsoleClient;
  let opened: ContainingSuite | undefined;
  beforeAll(async () => {
    opened = await openContainingSuite(backend, { gtr: true });
    ({ suite, containing, alice } = opened);
  });
  afterAll(() => opened?.close());

  const stateOf = async (userId: string) =>
    (await findUserById(suite.core.database.db, suite.accountId, userId))!.state;
  const settled = async () => {
    await suite.core.audit.settle();
    await suite.core.audit.sequencer.drain();
  };
  /** A contained MEMBER whose record's remote step has ended. */
  const contained = async (name: string, groups: string[] = []) => {
    const user = await containing.person(name, groups);
    const answer = await containing.signal(user.email);
    expect(answer.plan.status).toBe('executed');
    const id = answer.plan.containment_id;
    // The gtr step runs after commit (the step worker): wait until it has ended.
    let state: string | null | undefined = 'in_progress';
    for (let i = 0; i < 300 && state === 'in_progress'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      state = (await findContainment(suite.core.database.db, suite.accountId, id))?.targets_state;
    }
    expect(state).toBe('contained');
    await settled();
    return { user, id, planId: answer.plan.id, signalId: answer.signal.id };
  };
  const aliceSessionId = async () =>
    (await findLiveSessionByTokenHash(suite.core.database.db, hashSessionToken(alice.cookies.get('__Host-cordon')!)))!
      .id;

  it('shows the snapshot, drift, the steps per target and the explain chain with audit links', async () => {
    const { user, id, planId, signalId } = await contained('vic', ['Staff', 'Finance']);
    // Drift while open: a membership removed during the containment.
    await removeMember(suite.core.directory, testCtx, suite.accountId, containing.groupIds.get('Finance')!, user.id);
    await settled();
    const { status, body } = await alice.page(`/console/containments/${id}`);
    expect(status).toBe(200);
    expect(body).toContain(`<a href="/console/users/${user.id}">vic Person &lt;vic@test.example&gt;</a>`);
    expect(body).toMatch(/Snapshot: the state a restore goes back to[\s\S]*<dd>ACTIVE<\/dd>[\s\S]*<dd>MEMBER<\/dd>/);
    expect(body).toMatch(/<dt>Groups<\/dt>\s*<dd>Finance, Staff<\/dd>/);
    expect(body).toMatch(/<dt>Groups removed<\/dt>\s*<dd>Finance<\/dd>/);
    expect(body).toMatch(
      /<td>idp-sessions <span class="muted">\(gtr\)<\/span><\/td>\s*<td>suspend<\/td>\s*<td>verified/,
    );
    // The chain: signal, playbook, plan, the suspension's entry, each remote attempt, all linked.
    expect(body).toContain('Impossible travel for vic@test.example');
    expect(body).toContain('<a href="/console/playbooks/auto-contain">auto-contain</a> version 1');
    expect(body).toContain(`<a href="/console/plans/${planId}">${planId}</a>`);
    const trail = await auditTrail(suite.core, suite.accountId);
    const suspend = trail.find((e) => e.action === 'user.suspend' && e.target_id === user.id)!;
    const steps = (await listStepsOf(suite.core.database.db, suite.accountId, [id])).map((s) => s.id);
    const attempt = trail.find((e) => e.action === 'target.attempt' && steps.includes(e.target_id))!;
    const receipt = trail.find((e) => e.action === 'signal.receive' && e.target_id === signalId)!;
    for (const entry of [suspend, receipt, attempt])
      expect(body).toContain(`<a href="/console/audit/${entry.idx}">#${entry.idx}</a>`);
    expect(body).toContain('<button type="submit">Restore</button>');
    expect(body).toContain('Undo a false positive</button>');
    expect(body).not.toMatch(/<script>|<style|style=|\son[a-z]+=|gtr-test-token/);
    // And the list.
    const list = await alice.page('/console/containments?status=open');
    expect(list.body).toContain(`<a href="/console/containments/${id}">${id}</a>`);
    expect((await alice.page('/console/containments?status=closed')).body).not.toContain(id);
  });

  it('restores from the page: the user is active, with the entries of the API under the console session', async () => {
    const { user, id } = await contained('rita', ['Staff']);
    expect(await stateOf(user.id)).toBe('SUSPENDED');
    await alice.page(`/console/containments/${id}`);
    const posted = await alice.post(`/console/containments/${id}/restore`, { reason: 'restored' });
    expect([posted.status, posted.location]).toEqual([303, `/console/containments/${id}?done=restored`]);
    expect(await stateOf(user.id)).toBe('ACTIVE');
    const after = await alice.page(posted.location!);
    expect(after.body).toContain('Restored: the user is active again');
    expect(after.body).toMatch(/<span class="badge good">closed<\/span>/);
    expect(after.body).toContain('At the restore');
    expect(after.body).not.toContain('type="submit">Restore</button>');

    const sessionId = await aliceSessionId();
    const trail = await auditTrail(suite.core, suite.accountId);
    const request = trail.find((e) => e.action === 'containment.restore_request' && e.target_id === id)!;
    expect(request).toMatchObject({
      actor_type: 'user',
      actor_id: suite.people.alice!.id,
      outcome: 'changed',
      authz: { method: 'session', session_id: sessionId, role: 'ADMIN', via: 'console' },
      details: { user_id: user.id, reason: 'restored', approvals_required: 1, approvals: 1 },
    });
    const restorePlan = request.details['plan_id'] as string;
    expect(after.body).toContain(`Restored through\n`);
    expect(after.body).toContain(`<a href="/console/plans/${restorePlan}">plan ${restorePlan}</a>`);
    const restore = trail.find((e) => e.action === 'containment.restore' && e.target_id === id)!;
    expect(restore).toMatchObject({ actor_type: 'responder', outcome: 'changed', details: { reason: 'restored' } });
    expect(restore.cause['approvals']).toMatchObject([
      { approver_id: suite.people.alice!.id, session_id: sessionId, reason: 'requested: restored' },
    ]);
    expect(trail.some((e) => e.action === 'user.reactivate' && e.target_id === user.id)).toBe(true);

    // Restoring a closed record again: the page says why, with the API's status, and the refusal is audited.
    const again = await alice.post(`/console/containments/${id}/restore`, { reason: 'restored' });
    expect(again.status).toBe(400);
    expect(again.body).toContain('containment_closed: the containment is already closed');
    const refused = (await auditTrail(suite.core, suite.accountId)).filter(
      (e) => e.action === 'containment.restore' && e.outcome === 'refused' && e.target_id === id,
    );
    expect(refused).toMatchObject([{ actor_type: 'user', details: { code: 'CONTAINMENT_CLOSED' } }]);
  });

  it('undoes a false positive: the user is active and the signal marked', async () => {
    const { user, id } = await contained('fred');
    await alice.page(`/console/containments/${id}`);
    const posted = await alice.post(`/console/containments/${id}/restore`, { reason: 'false_positive' });
    expect([posted.status, posted.location]).toEqual([303, `/console/containments/${id}?done=false_positive`]);
    expect(await stateOf(user.id)).toBe('ACTIVE');
    const record = await findContainment(suite.core.database.db, suite.accountId, id);
    expect([record!.status, record!.close_reason]).toEqual(['closed', 'false_positive']);
    const after = await alice.page(posted.location!);
    expect(after.body).toContain('<span class="badge warn">false positive</span>');
    const trail = await auditTrail(suite.core, suite.accountId);
    expect(trail.find((e) => e.action === 'containment.restore_request' && e.target_id === id)).toMatchObject({
      actor_type: 'user',
      authz: { session_id: await aliceSessionId(), via: 'console' },
      details: { reason: 'false_positive' },
    });
  });

  it('under a two-person restore policy, the restore waits on a plan the page links to', async () => {
    const { user, id } = await contained('paula');
    await setRestorePolicy(suite.core.response, testCtx, suite.accountId, {
      restore_approvals: 2,
      approver_group_id: null,
    });
    try {
      const before = await alice.page(`/console/containments/${id}`);
      expect(before.body).toContain('The restore policy needs 2 people: yours counts as the first');
      const posted = await alice.post(`/console/containments/${id}/restore`, { reason: 'restored' });
      expect([posted.status, posted.location]).toEqual([303, `/console/containments/${id}?done=pending`]);
      expect(await stateOf(user.id)).toBe('SUSPENDED');
      const trail = await auditTrail(suite.core, suite.accountId);
      const planId = trail.find((e) => e.action === 'containment.restore_request' && e.target_id === id)!.details[
        'plan_id'
      ] as string;
      const after = await alice.page(posted.location!);
      expect(after.body).toContain('the restore now waits for their approvals');
      expect(after.body).toContain(`<a href="/console/plans/${planId}">plan ${planId}</a>`);
      expect(after.body).not.toContain('type="submit">Restore</button>');
    } finally {
      await setRestorePolicy(suite.core.response, testCtx, suite.accountId, {
        restore_approvals: 1,
        approver_group_id: null,
      });
    }
  });

  it('refuses a restore without the CSRF token, a MEMBER, and another account’s record', async () => {
    const { user, id } = await contained('carl');
    await alice.page(`/console/containments/${id}`);
    const forged = await alice.post(`/console/containments/${id}/restore`, { reason: 'restored', _csrf: '' });
    expect(forged.status).toBe(403);
    expect(forged.body).toContain('the form has expired or did not come from the console');
    expect(await stateOf(user.id)).toBe('SUSPENDED');

    const mia = await suite.signIn('mia');
    const member = await mia.page(`/console/containments/${id}`);
    expect(member.status).toBe(403);
    expect(member.body).not.toContain(user.email);
    expect((await mia.page('/console/containments')).status).toBe(403);

    // A record of another account: the page and the form answer 404, and nothing changes there.
    const other = await createAccount(suite.core.directory, testCtx, {
      name: 'Other Co',
      owner: { email: 'boss@other.example', display_name: 'Boss' },
    });
    const otherId = other.account.id;
    const victim = await createUser(suite.core.directory, testCtx, otherId, {
      email: 'victim@other.example',
      display_name: 'Victim',
    });
    await applyPlaybooks(suite.core.response, testCtx, otherId, [
      { name: 'auto', priority: 10, match: { types: ['auto.*'] }, action: 'suspend', mode: 'auto' },
    ]);
    const signal = {
      external_id: 'x-1',
      type: 'auto.x',
      title: 'x',
      severity: 'high',
      subject: { email: victim.email },
    };
    const reception = await receiveSignal(suite.core.response, {
      accountId: otherId,
      sourceId: 'test',
      signal: mapSignal('canonical', signal),
      rawText: JSON.stringify(signal),
      ctx: testCtx,
    });
    const foreign = reception.plan!.containment_id!;
    const seen = await alice.page(`/console/containments/${foreign}`);
    expect(seen.status).toBe(404);
    expect(seen.body).not.toContain(victim.email);
    const posted = await alice.post(`/console/containments/${foreign}/restore`, { reason: 'restored' });
    expect(posted.status).toBe(404);
    expect((await findContainment(suite.core.database.db, otherId, foreign))!.status).toBe('open');
    expect((await alice.page('/console/containments/not-an-id')).status).toBe(404);
  });
});
