/**
 * The console end to end in Chromium (issue 17 §3): a person signs in with TOTP; an alert arrives over
 * HTTP; the inbox shows it without a reload; a webhook receiver gets `plan.pending_approval`, verified
 * with the `standardwebhooks` package; a second person approves with step-up; the containment page shows
 * it contained; it is restored; an audit entry verifies in the browser, and fails there once its row is
 * tampered with. Each page is checked by axe-core and saved as a screenshot.
 */
import { createServer, type Server } from 'node:http';
import { sql } from 'kysely';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebhook } from '../../src/notify/subscriptions.js';
import { BACKENDS } from '../support/backends.js';
import { HAS_CHROMIUM, launchChromium, screenshot, seriousViolations } from '../support/browser.js';
import { openConsoleSuite, type ConsoleSuite } from '../support/console.js';
import { openConsoleWorld, type ConsoleWorld } from '../support/console-world.js';
import { testCtx } from '../support/fixtures.js';

const backend = BACKENDS.includes('postgres') ? 'postgres' : 'pglite';

interface Received {
  headers: Record<string, string>;
  body: string;
}

describe.skipIf(!HAS_CHROMIUM)(`the console in Chromium (${backend})`, () => {
  let suite: ConsoleSuite;
  let world: ConsoleWorld;
  let browser: Browser;
  let receiver: Server;
  let secret: string;
  const received: Received[] = [];
  const state: { planId?: string; containmentId?: string; entry?: number; subject?: { id: string; email: string } } =
    {};

  beforeAll(async () => {
    suite = await openConsoleSuite(backend, [
      ['ada', 'ADMIN'],
      ['grace', 'ADMIN'],
    ]);
    world = await openConsoleWorld(suite);
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        received.push({ headers: request.headers as Record<string, string>, body });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const port = (receiver.address() as { port: number }).port;
    ({ secret } = await createWebhook(suite.core.notify, testCtx, suite.accountId, {
      url: `http://127.0.0.1:${port}/hook`,
      events: ['plan.pending_approval', 'containment.opened'],
    }));
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => receiver?.close(resolve));
    await suite?.close();
  });

  /** A page in a fresh browser context (its own cookies), checked by axe after each navigation the test asks. */
  const newPage = async (): Promise<{ context: BrowserContext; page: Page }> => {
    const context = await browser.newContext();
    return { context, page: await context.newPage() };
  };
  const checked = async (page: Page, name: string) => {
    expect(await seriousViolations(page), name).toEqual([]);
    await screenshot(page, name);
  };

  const signInAs = async (page: Page, name: string) => {
    const person = suite.people[name]!;
    await page.goto(`${suite.url}/`);
    expect(new URL(page.url()).pathname).toBe('/console/sign-in');
    await page.getByLabel('Email').fill(person.email);
    await page.getByLabel('Password').fill(person.password);
    await page.getByLabel('Authenticator code').fill(await suite.totp(name));
    await Promise.all([page.waitForURL(`${suite.url}/console`), page.getByRole('button', { name: 'Sign in' }).click()]);
  };

  let ada: Page;

  it('1-3. signs in with TOTP, and the inbox shows a new alert without a reload', async () => {
    ({ page: ada } = await newPage());
    await signInAs(ada, 'ada');
    await checked(ada, 'sign-in-landing');
    state.subject = await world.member('sam');
    const before = Date.now();
    const alert = await world.alert(state.subject.email, 'review.login', 'Impossible travel for sam');
    expect(alert.status).toBe(200);
    // No reload: htmx polls the list every 2 s.
    await ada.getByText('Impossible travel for sam').waitFor({ timeout: 15_000 });
    expect(Date.now() - before).toBeLessThan(15_000);
    const planLink = ada.locator('#inbox a[href^="/console/plans/"]').first();
    state.planId = /\/console\/plans\/([A-Z2-7]{26})/.exec((await planLink.getAttribute('href'))!)![1];
    await expect.poll(() => ada.locator('#inbox').innerText()).toContain('sam@test.example');
    await checked(ada, 'inbox');
  });

  it('4. a webhook receiver gets plan.pending_approval, signed per Standard Webhooks', async () => {
    await expect.poll(() => received.length, { timeout: 10_000 }).toBeGreaterThan(0);
    const delivery = received.find((r) => (JSON.parse(r.body) as { type: string }).type === 'plan.pending_approval')!;
    const verified = new Webhook(secret).verify(delivery.body, delivery.headers) as {
      type: string;
      data: { plan_id: string; console_url: string };
    };
    expect(verified.type).toBe('plan.pending_approval');
    expect(verified.data.plan_id).toBe(state.planId);
    expect(verified.data.console_url).toBe(`${suite.core.issuer}/console/plans/${state.planId}`);
    expect(delivery.headers['webhook-id']).toMatch(/^msg_/);
  });

  it('5-6. a second person approves with step-up, and the containment page shows contained', async () => {
    const { page: grace } = await newPage();
    await signInAs(grace, 'grace');
    await grace.goto(`${suite.url}/console/plans/${state.planId}`);
    await checked(grace, 'plan');
    await grace.getByLabel('Reason to approve').fill('confirmed with the user: not them');
    await grace.getByLabel('Authenticator code (a fresh one)').fill(await suite.totp('grace'));
    await Promise.all([grace.waitForLoadState('load'), grace.getByRole('button', { name: 'Approve' }).click()]);
    await grace.getByText('executed').first().waitFor();
    const subject = await sql<{ state: string }>`SELECT state FROM users WHERE id = ${state.subject!.id}`.execute(
      suite.core.database.db,
    );
    expect(subject.rows[0]!.state).toBe('SUSPENDED');
    const link = grace.locator('a[href^="/console/containments/"]').first();
    state.containmentId = (await link.getAttribute('href'))!.split('/').pop()!;
    await grace.goto(`${suite.url}/console/containments/${state.containmentId}`);
    expect(await grace.locator('.containment-state').innerText()).toBe('contained');
    await checked(grace, 'containment');
    await grace.close();
  });

  it('7. restores from the containment page', async () => {
    await ada.goto(`${suite.url}/console/containments/${state.containmentId}`);
    await Promise.all([ada.waitForLoadState('load'), ada.getByRole('button', { name: 'Restore' }).click()]);
    await expect.poll(() => ada.locator('.containment-state').innerText()).toBe('restored');
    const subject = await sql<{ state: string }>`SELECT state FROM users WHERE id = ${state.subject!.id}`.execute(
      suite.core.database.db,
    );
    expect(subject.rows[0]!.state).toBe('ACTIVE');
    await checked(ada, 'containment-restored');
  });

  it('8-9. verifies an audit entry in the browser, and fails it once the row is tampered with', async () => {
    await suite.core.audit.settle();
    const approve = await sql<{ idx: number }>`SELECT idx FROM audit_entries
      WHERE account_id = ${suite.accountId} AND action = 'plan.approve' AND idx IS NOT NULL`.execute(
      suite.core.database.db,
    );
    state.entry = approve.rows[0]!.idx;
    // The checkpoint must cover the entry: the checkpointer signs one shortly after.
    await suite.core.checkpointer.pass();
    await ada.goto(`${suite.url}/console/audit/${state.entry}`);
    await ada.getByRole('button', { name: 'Verify' }).click();
    const result = ada.locator('output.verify-result');
    await expect.poll(() => result.getAttribute('data-state'), { timeout: 10_000 }).toBe('ok');
    await checked(ada, 'audit-verified');

    await sql`UPDATE audit_entries SET details = '{"reason":"nothing happened here"}'::jsonb
      WHERE account_id = ${suite.accountId} AND idx = ${state.entry}`.execute(suite.core.database.db);
    await ada.reload();
    await ada.getByRole('button', { name: 'Verify' }).click();
    await expect.poll(() => result.getAttribute('data-state'), { timeout: 10_000 }).toBe('failed');
    await screenshot(ada, 'audit-tampered');
  });
});
