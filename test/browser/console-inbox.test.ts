/**
 * The approvals inbox, the plan page and incidents in Chromium: no serious accessibility violation; the
 * raw alert loads when opened, and stays open across polls that find nothing new (204: htmx swaps
 * nothing); a new plan appears without a reload; no CSP violation on any of them.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../support/backends.js';
import { HAS_CHROMIUM, launchChromium, screenshot, seriousViolations } from '../support/browser.js';
import { openConsoleSuite, type ConsoleSuite } from '../support/console.js';
import { planMaker, type PlanMaker } from '../support/pending-plans.js';

const backend = BACKENDS.includes('postgres') ? 'postgres' : 'pglite';

describe.skipIf(!HAS_CHROMIUM)(`the approvals inbox in Chromium (${backend})`, () => {
  let suite: ConsoleSuite;
  let plans: PlanMaker;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    suite = await openConsoleSuite(backend, [
      ['ada', 'ADMIN'],
      ['sam', 'MEMBER'],
      ['tom', 'MEMBER'],
    ]);
    plans = await planMaker(suite.core, suite.accountId);
    browser = await launchChromium();
    page = await (await browser.newContext()).newPage();
    const ada = suite.people.ada!;
    // A code of the step that is ending may be stale by the time the form arrives: then the next one.
    for (let attempt = 0; attempt < 2 && !page.url().endsWith('/console'); attempt++) {
      await page.goto(`${suite.url}/console/sign-in`);
      await page.getByLabel('Email').fill(ada.email);
      await page.getByLabel('Password').fill(ada.password);
      await page.getByLabel('Authenticator code').fill(await suite.totp('ada'));
      await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Sign in' }).click()]);
      await page.waitForURL(/\/console(\/sign-in)?$/);
    }
    expect(page.url()).toBe(`${suite.url}/console`);
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
  });
  afterAll(async () => {
    await browser?.close();
    await suite?.close();
  });

  const checked = async (name: string) => {
    expect(await seriousViolations(page), name).toEqual([]);
    await screenshot(page, name);
  };

  it('keeps an opened raw alert open while nothing changes, and shows a new plan without a reload', async () => {
    const { plan } = await plans.signal('sam@test.example', { title: 'Impossible travel for sam' });
    await page.goto(`${suite.url}/console`);
    await checked('inbox-pending');
    const card = page.locator(`#plan-${plan!.id}`);
    await card.getByText('Raw alert').click();
    await card.locator('.raw pre.json').waitFor();
    expect(await card.locator('.raw').innerText()).toContain('impossible travel <b>');
    // Two polls later, nothing changed: the alert is still open.
    const polls: number[] = [];
    page.on('response', (response) => {
      if (response.url().includes('/console/inbox')) polls.push(response.status());
    });
    await expect.poll(() => polls.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    expect(polls.every((s) => s === 204)).toBe(true);
    expect(await card.locator('details').getAttribute('open')).toBe('');
    await plans.signal('tom@test.example', { title: 'Impossible travel for tom' });
    await page.getByText('Impossible travel for tom').waitFor({ timeout: 10_000 });
    expect(polls).toContain(200);
    await checked('inbox-two');
  });

  it('passes axe on the plan page and incidents, with no CSP or script error anywhere', async () => {
    await page.locator('a.decide-link').first().click();
    await page.getByLabel('Reason to approve').waitFor();
    await checked('plan-pending');
    await page.goto(`${suite.url}/console/incidents`);
    await checked('incidents');
    await page.getByLabel('State').selectOption('pending_approval');
    await Promise.all([
      page.waitForURL(/state=pending_approval/),
      page.getByRole('button', { name: 'Filter' }).click(),
    ]);
    expect(await page.locator('table.incidents tbody tr').count()).toBe(2);
    expect(problems).toEqual([]);
  });
});
