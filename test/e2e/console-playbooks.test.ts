/**
 * The console's playbook pages over HTTP: the list, a version diff (exact), lint (the problems an apply
 * would refuse), and the dry run of a pasted alert (the normalised signal and the plan the API's
 * `signals::plan` makes, nothing written). For OWNER and ADMIN; forms need the CSRF token.
 */
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { dryRunView } from '../../src/http/views/plans.js';
import { planSignal } from '../../src/response/engine.js';
import { mapSignal } from '../../src/response/intake/index.js';
import { applyPlaybooks } from '../../src/response/playbooks.js';
import { describeBackends } from '../support/backends.js';
import { openConsoleSuite, squash, type ConsoleClient, type ConsoleSuite } from '../support/console.js';
import { testCtx } from '../support/fixtures.js';

vi.setConfig({ testTimeout: 120_000 });

const unescape = (text: string) =>
  text.replace(
    /&(quot|#39|lt|gt|amp);/g,
    (_, e: string) => ({ quot: '"', '#39': "'", lt: '<', gt: '>', amp: '&' })[e]!,
  );
const diffOf = (body: string) =>
  [...body.matchAll(/<span class="diff-line (\w+)">([^<]*)<\/span>/g)].map((m) => unescape(m[2]!));

describeBackends('console: playbooks', (backend) => {
  let suite: ConsoleSuite;
  let alice: ConsoleClient;

  beforeAll(async () => {
    suite = await openConsoleSuite(backend, [
      ['alice', 'ADMIN'],
      ['mia', 'MEMBER'],
    ]);
    // Keys in jsonb's order (length, then bytes), so the stored documents read back as written.
    await applyPlaybooks(suite.core.response, testCtx, suite.accountId, [
      { mode: 'approval', name: 'contain-high', match: { min_severity: 'high' }, action: 'suspend' },
    ]);
    await applyPlaybooks(suite.core.response, testCtx, suite.accountId, [
      { mode: 'approval', name: 'contain-high', match: { min_severity: 'critical' }, action: 'suspend', priority: 10 },
    ]);
    alice = await suite.signIn('alice');
  });
  afterAll(() => suite.close());

  it('lists playbooks and diffs two versions line by line', async () => {
    const list = await alice.page('/console/playbooks');
    expect(list.status).toBe(200);
    expect(list.body).toContain('<a href="/console/playbooks/contain-high">contain-high</a>');
    const link = (from: number, to: number) =>
      `<a href="/console/playbooks/contain-high?from=${from}&amp;to=${to}">v${to}</a>`;
    expect(list.body).toContain(`${link(1, 2)}, ${link(1, 1)}`);

    const page = await alice.page('/console/playbooks/contain-high?from=1&to=2');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<option value="1" selected>v1</option>');
    expect(diffOf(page.body)).toEqual([
      '  mode: approval',
      '  name: contain-high',
      '  match:',
      '-   min_severity: high',
      '+   min_severity: critical',
      '  action: suspend',
      '+ priority: 10',
    ]);
    // The default compares the newest version with the one before; the other way round swaps the signs.
    expect(diffOf((await alice.page('/console/playbooks/contain-high')).body)).toEqual(diffOf(page.body));
    expect(diffOf((await alice.page('/console/playbooks/contain-high?from=2&to=1')).body)).toEqual([
      '  mode: approval',
      '  name: contain-high',
      '  match:',
      '-   min_severity: critical',
      '+   min_severity: high',
      '  action: suspend',
      '- priority: 10',
    ]);
    expect((await alice.page('/console/playbooks/no-such')).status).toBe(404);
  });

  it('lints a pasted playbook with the checks an apply makes', async () => {
    await alice.page('/console/playbooks');
    const bad = await alice.post('/console/playbooks/lint', {
      playbook: 'name: Bad Name\nmatch: { min_severity: severe }\naction: suspend\n',
    });
    expect(bad.status).toBe(200);
    expect(bad.body).toContain('The playbook has problems: an apply would refuse it.');
    expect(unescape(bad.body)).toContain('<li>/name must match pattern "^[a-z0-9][a-z0-9-]{0,62}$"</li>');
    expect(unescape(bad.body)).toContain(
      `<li>/match/min_severity must be one of "info", "low", "medium", "high", "critical"</li>`,
    );
    const target = await alice.post('/console/playbooks/lint', {
      playbook: JSON.stringify({ name: 'x', match: { min_severity: 'high' }, action: 'suspend', targets: ['nope'] }),
    });
    expect(target.body).toContain('<li>/targets names no target of this account: nope</li>');
    const text = await alice.post('/console/playbooks/lint', { playbook: 'a: [' });
    expect(text.body).toContain('not YAML or JSON');
    const good = await alice.post('/console/playbooks/lint', {
      playbook: 'name: ok-one\nmatch: {}\naction: notify\n',
    });
    expect(good.body).toContain('Lint passed: 1 playbook OK.');
    expect(good.body).toContain('<span class="badge good">OK</span>');
  });

  it('dry-runs a pasted alert: the normalised signal and the plan the API would make, nothing written', async () => {
    const signals = () => suite.core.database.db.selectFrom('signals').select('id').execute();
    const before = (await signals()).length;
    const alert = {
      external_id: 'console-dry-1',
      type: 'idp.risky_sign_in',
      severity: 'critical',
      confidence: 0.95,
      subject: { email: suite.people.mia!.email },
    };
    await alice.page('/console/playbooks');
    const run = await alice.post('/console/playbooks/dry-run', { format: 'canonical', signal: JSON.stringify(alert) });
    expect(run.status).toBe(200);
    const body = squash(unescape(run.body));
    const api = dryRunView(
      await planSignal(suite.core.response, suite.accountId, 'dry-run', mapSignal('canonical', alert)),
    );
    expect(api.plan.playbook).toEqual({ name: 'contain-high', version: 2 });
    expect(body).toContain(`<dd class="plan-status">${api.plan.status}</dd>`);
    expect(body).toContain(`<dd>${suite.people.mia!.id}</dd>`);
    expect(body).toContain('<dd>contain-high v2</dd>');
    for (const v of api.plan.verdicts)
      expect(body).toContain(`<tr><td>${v.step}</td><td>${v.outcome}</td><td>${v.reason}</td></tr>`);
    expect(body).toContain('"external_id": "console-dry-1"');
    expect(body).toContain('"severity": "critical"');
    expect((await signals()).length).toBe(before);

    const notJson = await alice.post('/console/playbooks/dry-run', { format: 'canonical', signal: '{' });
    expect(notJson.status).toBe(400);
    expect(notJson.body).toContain('the alert is not JSON');
    const invalid = await alice.post('/console/playbooks/dry-run', { format: 'canonical', signal: '{}' });
    expect(invalid.status).toBe(400);
    expect(invalid.body).toContain('role="alert"');
  });

  it('refuses a MEMBER, and a form without the CSRF token', async () => {
    const mia = await suite.signIn('mia');
    expect((await mia.page('/console/playbooks')).status).toBe(403);
    expect((await mia.page('/console/playbooks/contain-high')).status).toBe(403);
    const noCsrf = await alice.post('/console/playbooks/lint', { _csrf: '', playbook: 'name: x' });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body).toContain('the form has expired or did not come from the console');
  });
});
