/**
 * The console's automation page over HTTP: the kill switch, the blast-radius cap, breaker reset and the
 * restore policy change what the API shows and write the audit entries the API's routes write (by the
 * same services), as the person with their console session; refusals leave everything as it was.
 */
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { automationView } from '../../src/http/views/automation.js';
import { readAutomation } from '../../src/store/automation.js';
import { describeBackends } from '../support/backends.js';
import { mintSessionToken } from '../support/fixtures.js';
import { openConsoleSuite, squash, type ConsoleClient, type ConsoleSuite } from '../support/console.js';

vi.setConfig({ testTimeout: 120_000 });

describeBackends('console: automation', (backend) => {
  let suite: ConsoleSuite;
  let alice: ConsoleClient;

  const state = () => automationView(suite.core.database.db, suite.accountId, suite.core.response.defaults);
  /** The account's entries of `action`, once refusals (recorded off the request's path) are written. */
  const entries = async (action: string) => {
    await suite.core.audit.settle();
    await suite.core.audit.sequencer.drain();
    return suite.core.database.db
      .selectFrom('audit_entries')
      .select(['actor_type', 'actor_id', 'target_type', 'target_id', 'outcome', 'authz', 'details'])
      .where('account_id', '=', suite.accountId)
      .where('action', '=', action)
      .orderBy('idx')
      .execute();
  };

  beforeAll(async () => {
    suite = await openConsoleSuite(backend, [
      ['olga', 'OWNER'],
      ['alice', 'ADMIN'],
      ['mia', 'MEMBER'],
    ]);
    alice = await suite.signIn('alice');
  });
  afterAll(() => suite.close());

  it('pauses and resumes, as the API does, with the same audit entries', async () => {
    const page = await alice.page('/console/automation');
    expect(page.status).toBe(200);
    expect(page.body).toContain('data-state="running"');
    expect(squash(page.body)).toContain(
      '<button class="danger" type="submit" data-confirm="Pause automation? Every plan will wait for approval.">',
    );

    const refused = await alice.post('/console/automation/pause', { _csrf: '', reason: 'no token' });
    expect(refused.status).toBe(403);
    expect((await state()).paused).toBe(false);
    const crossSite = await alice.post(
      '/console/automation/pause',
      { reason: 'x' },
      { origin: 'https://evil.example' },
    );
    expect(crossSite.status).toBe(403);
    expect((await state()).paused).toBe(false);

    const paused = await alice.post('/console/automation/pause', { reason: 'incident 42' });
    expect(paused).toMatchObject({ status: 303, location: '/console/automation?done=paused' });
    expect(await state()).toMatchObject({
      paused: true,
      paused_by: `user:${suite.people.alice!.id}`,
      pause_reason: 'incident 42',
    });
    const shown = await alice.page('/console/automation?done=paused');
    expect(shown.body).toContain('data-state="paused"');
    expect(shown.body).toContain('Automation is paused: every plan now waits for approval.');
    // The refusals are in the log, as the API's are; then the pause.
    expect(await entries('automation.pause')).toEqual([
      expect.objectContaining({ outcome: 'refused', details: { code: 'PERMISSION_DENIED' } }),
      expect.objectContaining({ outcome: 'refused', details: { code: 'PERMISSION_DENIED' } }),
      {
        actor_type: 'user',
        actor_id: suite.people.alice!.id,
        target_type: 'account',
        target_id: suite.accountId,
        outcome: 'changed',
        authz: expect.objectContaining({
          method: 'session',
          via: 'console',
          role: 'ADMIN',
          session_id: expect.any(String),
        }),
        details: { reason: 'incident 42' },
      },
    ]);

    expect((await alice.post('/console/automation/resume', {})).status).toBe(303);
    expect((await state()).paused).toBe(false);
    expect(await entries('automation.resume')).toMatchObject([{ outcome: 'changed', details: {} }]);
    // Resuming again changes nothing, and says so in the log (as the API's :resume does).
    await alice.post('/console/automation/resume', {});
    expect((await entries('automation.resume')).map((e) => e.outcome)).toEqual(['changed', 'unchanged']);
  });

  it('sets the blast-radius cap, refusing values the API refuses', async () => {
    await alice.page('/console/automation');
    const bad = await alice.post('/console/automation/breaker', { max_actions: '0', window_seconds: '60' });
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('Max actions must be a whole number from 1 to 10000');
    expect(await entries('automation.breaker_cap')).toMatchObject([
      { outcome: 'refused', details: { code: 'INVALID_ARGUMENT' } },
    ]);

    const saved = await alice.post('/console/automation/breaker', { max_actions: '7', window_seconds: '600' });
    expect(saved.status).toBe(303);
    expect((await state()).breaker_cap).toEqual({ max_actions: 7, window_seconds: 600 });
    expect((await entries('automation.breaker_cap')).slice(1)).toMatchObject([
      { outcome: 'changed', details: { to: { max_actions: 7, window_seconds: 600 } } },
    ]);
    const page = await alice.page('/console/automation');
    expect(page.body).toContain('value="7"');
    expect(page.body).toContain('No breaker is tripped.');
  });

  it('resets breakers: an unknown scope is refused with the reason', async () => {
    await alice.page('/console/automation');
    const missing = await alice.post('/console/automation/reset-breaker', { scope: 'nope' });
    expect(missing.status).toBe(404);
    expect(missing.body).toContain('no tripped breaker nope');
    expect((await alice.post('/console/automation/reset-breaker', {})).status).toBe(303);
  });

  it('changes the restore policy for OWNERs only', async () => {
    const adminPage = await alice.page('/console/automation');
    expect(adminPage.body).toContain('Only OWNERs change it.');
    expect(adminPage.body).not.toContain('action="/console/automation/restore-policy"');
    const refused = await alice.post('/console/automation/restore-policy', { restore_approvals: '2' });
    expect(refused.status).toBe(403);

    const olga = await suite.signIn('olga');
    await olga.page('/console/automation');
    const saved = await olga.post('/console/automation/restore-policy', {
      restore_approvals: '2',
      approver_group_id: '',
    });
    expect(saved.status).toBe(303);
    expect(await readAutomation(suite.core.database.db, suite.accountId)).toMatchObject({
      restore_approvals: 2,
      approver_group_id: null,
    });
    expect(await entries('automation.restore_policy')).toMatchObject([
      { actor_id: suite.people.alice!.id, outcome: 'refused', details: { code: 'PERMISSION_DENIED' } },
      {
        actor_id: suite.people.olga!.id,
        outcome: 'changed',
        details: { restore_approvals: 2, approver_group_id: null },
      },
    ]);
    const noGroup = await olga.post('/console/automation/restore-policy', {
      restore_approvals: '1',
      approver_group_id: 'AAAAAAAAAAAAAAAAAAAAAAAAAA',
    });
    expect(noGroup.status).toBe(404);
    const notAnId = await olga.post('/console/automation/restore-policy', {
      restore_approvals: '1',
      approver_group_id: 'admins',
    });
    expect(notAnId.status).toBe(400);
    expect(notAnId.body).toContain('the approver group must be a group id');
    expect((await readAutomation(suite.core.database.db, suite.accountId)).restore_approvals).toBe(2);
  });

  it("writes the API's entry, but for the session and `via: console`", async () => {
    const token = await mintSessionToken(suite.core, { account_id: suite.accountId, id: suite.people.alice!.id });
    const api = await fetch(`${suite.url}/v1/accounts/${suite.accountId}/automation:pause`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'same' }),
    });
    expect(api.status).toBe(200);
    await alice.page('/console/automation');
    expect((await alice.post('/console/automation/resume', {})).status).toBe(303);
    await fetch(`${suite.url}/v1/accounts/${suite.accountId}/automation:resume`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({}),
    });
    expect((await alice.post('/console/automation/pause', { reason: 'same' })).status).toBe(303);
    const [byApi, byConsole] = (await entries('automation.pause')).filter((e) => e.outcome === 'changed').slice(-2);
    const { session_id: _a, user_agent: _ua1, ...apiAuthz } = byApi!.authz;
    const { session_id: _c, via, user_agent: _ua2, ...consoleAuthz } = byConsole!.authz;
    expect(via).toBe('console');
    expect(consoleAuthz).toEqual(apiAuthz);
    expect({ ...byConsole, authz: null }).toEqual({ ...byApi, authz: null });
    await alice.post('/console/automation/resume', {});
  });

  it('is not for MEMBERs', async () => {
    const mia = await suite.signIn('mia');
    expect((await mia.page('/console/automation')).status).toBe(403);
    expect((await mia.post('/console/automation/pause', { reason: 'x' })).status).toBe(403);
    expect((await state()).paused).toBe(false);
    expect((await entries('automation.pause')).at(-1)).toMatchObject({
      actor_id: suite.people.mia!.id,
      outcome: 'refused',
      details: { code: 'PERMISSION_DENIED' },
    });
  });
});
