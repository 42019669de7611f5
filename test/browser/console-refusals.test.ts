/**
 * What the console refuses, in Chromium (issue 17 §3): a post without the CSRF token, a form posted from
 * another site, an expired session, a MEMBER opening the inbox, and the subject of a plan trying to
 * approve it. And every other page, checked by axe-core (no serious or critical violation) and saved as
 * a screenshot.
 */
import { createServer, type Server } from 'node:http';
import { sql } from 'kysely';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../support/backends.js';
import { HAS_CHROMIUM, launchChromium, screenshot, seriousViolations } from '../support/browser.js';
import { openConsoleSuite, type ConsoleSuite } from '../support/console.js';
import { openConsoleWorld, type ConsoleWorld } from '../support/console-world.js';

const backend = BACKENDS.includes('postgres') ? 'postgres' : 'pglite';

describe.skipIf(!HAS_CHROMIUM)(`the console refuses, in Chromium (${backend})`, () => {
  let suite: ConsoleSuite;
  let world: ConsoleWorld;
  let browser: Browser;
  let attacker: Server;
  let attackerUrl: string;

  beforeAll(async () => {
    suite = await openConsoleSuite(backend, [
      ['ada', 'ADMIN'],
      ['alan', 'ADMIN'],
      ['mia', 'MEMBER'],
    ]);
    world = await openConsoleWorld(suite);
    browser = await launchChromium();
    // Another site (localhost is not 127.0.0.1's site): a page whose form posts to the console.
    attacker = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' }).end(
        `<!doctype html><html lang="en"><title>evil</title><form method="post"
          action="${suite.url}/console/automation/pause"><input name="reason" value="gotcha">
          <button type="submit">Win a prize</button></form></html>`,
      );
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    attackerUrl = `http://localhost:${(attacker.address() as { port: number }).port}/`;
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => attacker?.close(resolve));
    await suite?.close();
  });

  /** A page signed in as `name` (the session made as the form makes one). */
  const pageOf = async (name: string): Promise<Page> => {
    const client = await suite.signIn(name);
    const context = await browser.newContext();
    await context.addCookies([
      {
        name: '__Host-cordon',
        value: client.cookies.get('__Host-cordon')!,
        domain: '127.0.0.1',
        path: '/',
        secure: true,
        httpOnly: true,
        sameSite: 'Strict',
      },
    ]);
    return context.newPage();
  };
  const paused = async () =>
    (
      await sql<{ paused: boolean }>`SELECT paused_at IS NOT NULL AS paused FROM automation_settings
        WHERE account_id = ${suite.accountId}`.execute(suite.core.database.db)
    ).rows[0]?.paused ?? false;

  it('passes axe on every page, and saves each as a screenshot', async () => {
    const subject = await world.member('sam');
    await world.alert(subject.email, 'auto.malware', 'Malware beaconing from sam');
    const ada = await pageOf('ada');
    const pages: Record<string, string> = {
      incidents: '/console/incidents',
      containments: '/console/containments',
      users: '/console/users?q=sam',
      user: `/console/users/${subject.id}`,
      audit: '/console/audit',
      playbooks: '/console/playbooks',
      playbook: '/console/playbooks/review-first',
      automation: '/console/automation',
      password: '/console/password',
    };
    for (const [name, path] of Object.entries(pages)) {
      const response = await ada.goto(suite.url + path);
      expect([name, response!.status()]).toEqual([name, 200]);
      expect(await seriousViolations(ada), name).toEqual([]);
      await screenshot(ada, name);
    }
    const signIn = await (await browser.newContext()).newPage();
    await signIn.goto(`${suite.url}/console/sign-in`);
    expect(await seriousViolations(signIn)).toEqual([]);
    await screenshot(signIn, 'sign-in');
  });

  it('refuses a post without the CSRF token', async () => {
    const ada = await pageOf('ada');
    await ada.goto(`${suite.url}/console/automation`);
    const response = await ada.request.post(`${suite.url}/console/automation/pause`, {
      form: { reason: 'no token' },
      headers: { origin: suite.url },
      maxRedirects: 0,
    });
    expect(response.status()).toBe(403);
    expect(await response.text()).toContain('the form has expired or did not come from the console');
    expect(await paused()).toBe(false);
  });

  it('refuses a form posted from another site', async () => {
    const ada = await pageOf('ada');
    await ada.goto(`${suite.url}/console/automation`);
    await ada.goto(attackerUrl);
    await Promise.all([ada.waitForLoadState('load'), ada.getByRole('button', { name: 'Win a prize' }).click()]);
    await ada.waitForURL((url) => url.href.startsWith(suite.url));
    expect(await ada.locator('main').innerText()).toContain('a console form may only be sent from the console itself');
    expect(await paused()).toBe(false);
  });

  it('sends an expired session to the sign-in page', async () => {
    const ada = await pageOf('ada');
    await ada.goto(`${suite.url}/console/incidents`);
    expect(new URL(ada.url()).pathname).toBe('/console/incidents');
    await sql`UPDATE sessions SET expires_at = now() - interval '1 second'
      WHERE user_id = ${suite.people.ada!.id} AND revoked_at IS NULL`.execute(suite.core.database.db);
    await ada.reload();
    expect(new URL(ada.url()).pathname).toBe('/console/sign-in');
    expect(await ada.getByLabel('Authenticator code').count()).toBe(1);
  });

  it('shows a MEMBER no inbox', async () => {
    const mia = await pageOf('mia');
    const response = await mia.goto(`${suite.url}/console`);
    expect(response!.status()).toBe(403);
    expect(await mia.locator('h1').innerText()).toBe('Not allowed');
    expect(await mia.locator('#inbox').count()).toBe(0);
  });

  it('shows the subject of a plan no approve button, and refuses the approval they post anyway', async () => {
    const alan = suite.people.alan!;
    const alert = await world.alert(alan.email, 'review.login', 'Alan logs in from two continents');
    const planId = (alert.body.plan as { id: string }).id;
    const page = await pageOf('alan');
    await page.goto(`${suite.url}/console/plans/${planId}`);
    expect(await page.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    expect(await page.locator('main').innerText()).toContain('You are the subject of this plan');
    const csrf = await page.locator('meta[name="csrf-token"]').getAttribute('content');
    const digest = (
      await sql<{ action_digest: string }>`SELECT action_digest FROM plans WHERE id = ${planId}`.execute(
        suite.core.database.db,
      )
    ).rows[0]!.action_digest;
    const response = await page.request.post(`${suite.url}/console/plans/${planId}/decisions`, {
      form: {
        _csrf: csrf!,
        action_digest: digest,
        decision: 'approve',
        reason: 'it is fine, it is me',
        totp: await suite.totp('alan'),
      },
      headers: { origin: suite.url },
      maxRedirects: 0,
    });
    expect(response.status()).toBe(403);
    const state = await sql<{ state: string }>`SELECT state FROM users WHERE id = ${alan.id}`.execute(
      suite.core.database.db,
    );
    expect(state.rows[0]!.state).toBe('ACTIVE');
  });
});
