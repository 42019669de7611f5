/**
 * The incidents timeline over real HTTP: signals with their plans and containments, newest first,
 * filtered by state, time, subject and playbook, in pages with an "Older" link.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { decidePlan } from '../../src/response/approvals.js';
import { describeBackends } from '../support/backends.js';
import { openPlanSuite, type ConsoleClient, type ConsoleSuite } from '../support/console.js';
import type { PlanMaker } from '../support/pending-plans.js';

describeBackends('console: incidents', (backend) => {
  let suite: ConsoleSuite;
  let plans: PlanMaker;
  let alice: ConsoleClient;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    ({ suite, plans, alice } = await openPlanSuite(backend, [
      ['alice', 'ADMIN'],
      ['mia', 'MEMBER'],
      ['tom', 'MEMBER'],
      ['uma', 'MEMBER'],
      ['val', 'MEMBER'],
    ]));
    const decide = async (planId: string, decision: 'approve' | 'deny') => {
      const plan = await suite.core.database.db
        .selectFrom('plans')
        .select('action_digest')
        .where('id', '=', planId)
        .executeTakeFirstOrThrow();
      const session = await suite.core.database.db
        .selectFrom('sessions')
        .select('id')
        .where('user_id', '=', suite.people.alice!.id)
        .executeTakeFirstOrThrow();
      await decidePlan(
        suite.core.response,
        {
          userId: suite.people.alice!.id,
          role: 'ADMIN',
          sessionId: session.id,
          ctx: { actor: { type: 'user', id: suite.people.alice!.id }, authz: { method: 'session' } },
        },
        suite.accountId,
        planId,
        { decision, reason: 'test', actionDigest: plan.action_digest! },
      );
    };
    ids.tom = (await plans.signal('tom@test.example', { title: 'tom travels' })).plan!.id;
    await decide(ids.tom, 'approve');
    ids.uma = (await plans.signal('uma@test.example', { title: 'uma travels', playbook: 'needs-two' })).plan!.id;
    ids.val = (await plans.signal('val@test.example', { title: 'val travels' })).plan!.id;
    await decide(ids.val, 'deny');
  });
  afterAll(() => suite?.close());

  const rows = (body: string) => [...body.matchAll(/<tr>\s*<td><time/g)].length;

  it('shows each signal with its plan and containment, newest first', async () => {
    const { status, body } = await alice.page('/console/incidents');
    expect(status).toBe(200);
    expect(rows(body)).toBe(3);
    expect(body.indexOf('val travels')).toBeLessThan(body.indexOf('uma travels'));
    expect(body.indexOf('uma travels')).toBeLessThan(body.indexOf('tom travels'));
    expect(body).toContain(`<a href="/console/plans/${ids.tom}">suspend</a>`);
    expect(body).toMatch(
      /<a href="\/console\/containments\/[A-Z2-7]{26}">record<\/a> <span class="badge warn">contained/,
    );
    expect(body).toContain('<label for="f-subject">');
    expect(body).not.toContain('rel="next"');
  });

  it('filters by state, subject, playbook and time', async () => {
    const only = async (query: string) => {
      const { status, body } = await alice.page(`/console/incidents?${query}`);
      expect(status).toBe(200);
      return ['tom', 'uma', 'val'].filter((n) => body.includes(`${n} travels`));
    };
    expect(await only('state=contained')).toEqual(['tom']);
    expect(await only('state=pending_approval')).toEqual(['uma']);
    expect(await only('state=denied')).toEqual(['val']);
    expect(await only('state=restored')).toEqual([]);
    expect(await only('subject=UMA%40test')).toEqual(['uma']);
    expect(await only('subject=%25')).toEqual([]);
    expect(await only('playbook=needs-two')).toEqual(['uma']);
    expect(await only('playbook=needs-one&state=executed')).toEqual(['tom']);
    const hour = (offset: number) => new Date(Date.now() + offset * 3_600_000).toISOString().slice(0, 16);
    expect(await only(`from=${hour(-1)}&to=${hour(1)}`)).toEqual(['tom', 'uma', 'val']);
    expect(await only(`from=${hour(1)}`)).toEqual([]);
    expect(await only(`to=${hour(-1)}`)).toEqual([]);
    const selected = await alice.page('/console/incidents?state=denied');
    expect(selected.body).toContain('<option value="denied" selected>');
    expect((await alice.page('/console/incidents?state=nonsense')).status).toBe(400);
    expect((await alice.page('/console/incidents?from=yesterday')).status).toBe(400);
  });

  it('pages 50 rows at a time, the "Older" link keeping the filters', async () => {
    // Signals nobody resolves (no plan), from the same source: 52 of them.
    for (let i = 0; i < 52; i++) await plans.signal(`ghost${i}@nowhere.example`, { title: `ghost ${i}` });
    const first = await alice.page('/console/incidents?state=no_action');
    expect(rows(first.body)).toBe(50);
    const older = /<a rel="next" href="([^"]+)">Older<\/a>/.exec(first.body)![1]!.replaceAll('&amp;', '&');
    expect(older).toContain('state=no_action');
    const second = await alice.page(older);
    expect(rows(second.body)).toBe(2);
    expect(second.body).not.toContain('rel="next"');
    const titles = (body: string) => [...body.matchAll(/ghost (\d+)/g)].map((m) => Number(m[1]));
    expect(new Set([...titles(first.body), ...titles(second.body)]).size).toBe(52);
    expect(second.body).toContain('>Newest</a>');
  });

  it('is for approvers only', async () => {
    const mia = await suite.signIn('mia');
    const refused = await mia.page('/console/incidents');
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('incidents are for OWNERs, ADMINs and members of the approver group');
  });
});
