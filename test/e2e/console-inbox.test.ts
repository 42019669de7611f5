/**
 * The approvals inbox over real HTTP: what a pending plan shows, the polled fragment (a new plan appears;
 * an unchanged one answers 204 so htmx swaps nothing), who may open it, and that it reads the database
 * once per render.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { sql, type CompiledQuery } from 'kysely';
import { createGroup, addMember } from '../../src/directory/groups.js';
import { setRestorePolicy } from '../../src/response/restores.js';
import { describeBackends } from '../support/backends.js';
import { openPlanSuite, type ConsoleClient, type ConsoleSuite } from '../support/console.js';
import { testCtx } from '../support/fixtures.js';
import type { PlanMaker } from '../support/pending-plans.js';

describeBackends('console: the approvals inbox', (backend) => {
  let suite: ConsoleSuite;
  let plans: PlanMaker;
  let alice: ConsoleClient;

  beforeAll(async () => {
    ({ suite, plans, alice } = await openPlanSuite(backend, [
      ['alice', 'ADMIN'],
      ['mia', 'MEMBER'],
      ['sam', 'MEMBER'],
      ['tom', 'MEMBER'],
      ['ann', 'ADMIN'],
    ]));
  });
  afterAll(() => suite?.close());

  const version = (body: string) => /hx-get="\/console\/inbox\?v=([^"]+)"/.exec(body)?.[1];

  it('shows a pending plan with its subject, signal, playbook version, verdicts, expiry and approvals', async () => {
    const empty = await alice.page('/console');
    expect(empty.status).toBe(200);
    expect(empty.body).toContain('No plan is waiting for approval.');
    expect(empty.body).toContain('hx-trigger="every 2s"');
    const v0 = version(empty.body)!;
    expect((await alice.request(`/console/inbox?v=${v0}`)).status).toBe(204);

    const { plan } = await plans.signal('sam@test.example', {
      title: 'Impossible travel for sam',
      severity: 'critical',
    });
    expect(plan!.status).toBe('pending_approval');
    const polled = await alice.request(`/console/inbox?v=${v0}`, { headers: { 'hx-request': 'true' } });
    expect(polled.status).toBe(200);
    const fragment = await polled.text();
    expect(fragment).not.toContain('<html');
    expect(fragment).toContain(`<a href="/console/users/${suite.people.sam!.id}">sam</a> &lt;sam@test.example&gt;`);
    expect(fragment).toContain('<span class="signal-title">Impossible travel for sam</span>');
    expect(fragment).toContain('<span class="badge bad">critical</span>');
    expect(fragment).toContain('confidence 0.9');
    expect(fragment).toContain('from edr');
    expect(fragment).toContain('<a href="/console/playbooks/needs-one">needs-one</a> version 1');
    // Every guard verdict, the hold among them.
    for (const step of ['resolve-subject', 'match-playbook', 'kill-switch', 'protected-principals', 'approval'])
      expect(fragment).toContain(`<td>${step}</td>`);
    expect(fragment).toContain('needs 1 approval (playbook_mode)');
    expect(fragment).toContain(`<time datetime="${new Date(plan!.expires_at!).toISOString()}">`);
    expect(fragment).toContain('<span class="approvals">0 of 1</span>');
    expect(fragment).toContain('suspend the user and revoke every session');
    expect(fragment).toContain('app siem');
    expect(fragment).toContain(`<a class="decide-link" href="/console/plans/${plan!.id}">Review and decide</a>`);
    // The raw alert is fetched on demand, escaped.
    const lazy = `<details\\s+hx-get="/console/plans/${plan!.id}/alert"\\s+hx-trigger="toggle once"`;
    expect(fragment).toMatch(new RegExp(`${lazy}\\s+hx-target="find .raw"\\s+hx-swap="innerHTML"`));
    const raw = await alice.page(`/console/plans/${plan!.id}/alert`);
    expect(raw.status).toBe(200);
    expect(raw.body).toContain('impossible travel &lt;b&gt;');

    // Polled again with the fragment's own version: nothing changed, nothing to swap.
    expect((await alice.request(`/console/inbox?v=${version(fragment)!}`)).status).toBe(204);
    const second = await plans.signal('tom@test.example', { playbook: 'needs-two' });
    const next = await alice.page(`/console/inbox?v=${version(fragment)!}`);
    expect(next.status).toBe(200);
    expect(next.body).toContain('<span class="approvals">0 of 2</span>');
    // Newest first.
    expect(next.body.indexOf(second.plan!.id)).toBeLessThan(next.body.indexOf(plan!.id));
  });

  it('polls without keeping an idle session alive', async () => {
    const ann = await suite.signIn('ann');
    const db = suite.core.database.db;
    const idleFor = (seconds: number) =>
      sql`UPDATE sessions SET last_seen_at = now() - make_interval(secs => ${seconds})
        WHERE user_id = ${suite.people.ann!.id} AND revoked_at IS NULL`.execute(db);
    const seen = async () =>
      (
        await sql<{ idle: number }>`SELECT extract(epoch FROM now() - last_seen_at)::int AS idle FROM sessions
        WHERE user_id = ${suite.people.ann!.id} AND revoked_at IS NULL`.execute(db)
      ).rows[0]?.idle;
    await idleFor(100);
    expect((await ann.request('/console/inbox', { headers: { 'hx-request': 'true' } })).status).toBe(200);
    expect(await seen()).toBeGreaterThanOrEqual(100);
    expect((await ann.page('/console')).status).toBe(200);
    expect(await seen()).toBeLessThan(5);
    await idleFor(1801);
    const ended = await ann.request('/console/inbox', { headers: { 'hx-request': 'true' } });
    expect([ended.status, ended.headers.get('hx-redirect')]).toEqual([204, '/console/sign-in?ended=idle']);
    expect(await seen()).toBeUndefined();
  });

  it('refuses a MEMBER outside the approver group, and admits one inside it', async () => {
    const mia = await suite.signIn('mia');
    for (const path of ['/console', '/console/inbox']) {
      const refused = await mia.page(path);
      expect(refused.status).toBe(403);
      expect(refused.body).toContain('plans are for OWNERs, ADMINs and members of the approver group');
    }
    expect((await mia.page('/console')).body).toContain('<title>Not allowed · Cordon</title>');
    const group = await createGroup(suite.core.directory, testCtx, suite.accountId, 'approvers');
    await addMember(suite.core.directory, testCtx, suite.accountId, group.id, suite.people.mia!.id);
    await setRestorePolicy(suite.core.response, testCtx, suite.accountId, {
      restore_approvals: 1,
      approver_group_id: group.id,
    });
    const admitted = await mia.page('/console');
    expect(admitted.status).toBe(200);
    expect(admitted.body).toContain('Review and decide');
  });

  it('renders from one statement, however many plans and decisions it shows', async () => {
    // Every statement the server sends through its pool or PGlite while the fragment renders.
    const executor = suite.core.database.db.getExecutor();
    const original = executor.executeQuery.bind(executor);
    const seen: string[] = [];
    executor.executeQuery = ((query: CompiledQuery) => {
      seen.push(query.sql);
      return original(query);
    }) as typeof executor.executeQuery;
    const count = async () => {
      seen.length = 0;
      const { status, body } = await alice.page('/console/inbox');
      expect(status).toBe(200);
      // The session's own (the guard reads and touches it) and the audit sequencer's are not the inbox's.
      return { body, statements: seen.filter((s) => !/\b(sessions|audit_\w+)\b/.test(s)) };
    };
    try {
      // Background jobs share the executor: the fewest of three renders is the inbox's own.
      const fewest = async () => {
        const runs = [await count(), await count(), await count()];
        return runs.reduce((a, b) => (b.statements.length < a.statements.length ? b : a));
      };
      const before = await fewest();
      await plans.signal('alice@test.example');
      const { plan } = await plans.signal('mia@test.example', { playbook: 'needs-two' });
      const approved = await alice.post(`/console/plans/${plan!.id}/decisions`, {
        decision: 'approve',
        reason: 'first of two',
        action_digest: plan!.action_digest!,
        totp: await suite.totp('alice'),
      });
      expect(approved.status).toBe(303);
      const after = await fewest();
      expect(before.statements).toHaveLength(1);
      expect(after.statements).toHaveLength(1);
      expect(after.body.match(/<article class="card plan"/g)!.length).toBeGreaterThanOrEqual(2);
      expect(after.body).toContain('<span class="approvals">1 of 2</span>');
      expect(after.statements[0]).toMatch(/plan_approvals/);
    } finally {
      executor.executeQuery = original;
    }
  });
});
