/**
 * A leaked secret's containment in the console, in Chromium (issue 19): a leak report of an app's client
 * secret opens a record that the app's maker finds from their home page; its page names the app and its
 * maker, the action, where the leak was found (a link only when https, escaped), what was revoked and what
 * the app did before; the new secret is read once (the page is not stored; a second read shows nothing),
 * and a restore from the page gives the app another new secret, read once too. The list shows the record
 * by its subject; a leak found at a javascript: URL is shown as text, never as a link.
 */
import { writeFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSource } from '../../src/response/sources.js';
import { findContainment } from '../../src/store/containments.js';
import { BACKENDS } from '../support/backends.js';
import { HAS_CHROMIUM, launchChromium, screenshot, seriousViolations } from '../support/browser.js';
import { openConsoleSuite, type ConsoleSuite } from '../support/console.js';
import { auditTrail, mintSessionToken, testCtx } from '../support/fixtures.js';
import { keySetDocument, makeCodeHostKey, match, postReport } from '../support/leak-reports.js';
import { useTempDir } from '../support/temp-dir.js';

const backend = BACKENDS.includes('postgres') ? 'postgres' : 'pglite';
const hostKey = makeCodeHostKey('github-key-1');
const LEAK_URL = 'https://github.com/octo/app/blob/main/.env?q=<b>"x"&y=1';

describe.skipIf(!HAS_CHROMIUM)(`a leaked secret's containment in the console, in Chromium (${backend})`, () => {
  const keys = useTempDir('cordon-nhi-console-')('keys.json');
  let suite: ConsoleSuite;
  let browser: Browser;
  let app: { id: string; client_id: string; client_secret: string };
  let containmentId: string;

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
  const tokenStatus = async (secret: string) =>
    (
      await fetch(`${suite.url}/v1/oauth/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${app.client_id}:${secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      })
    ).status;
  const report = async (items: unknown[]) => {
    const answer = await postReport(suite.server, items, { key: hostKey });
    expect(answer.statusCode, answer.body).toBe(200);
    await suite.core.audit.settle();
  };

  beforeAll(async () => {
    writeFileSync(keys, keySetDocument([hostKey]));
    suite = await openConsoleSuite(
      backend,
      [
        ['ada', 'ADMIN'],
        ['bob', 'ADMIN'],
      ],
      { CORDON_SECRET_SCANNING_KEYS: keys },
    );
    browser = await launchChromium();
    // Ada makes the app (its maker), which gets a token; then its secret is found in public.
    const token = await mintSessionToken(suite.core, { account_id: suite.accountId, id: suite.people.ada!.id });
    const made = await fetch(`${suite.url}/v1/accounts/${suite.accountId}/apps`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'deploy-bot', permissions: ['audit:read'] }),
    });
    expect(made.status).toBe(201);
    app = (await made.json()) as typeof app;
    expect(await tokenStatus(app.client_secret)).toBe(200);
    await report([{ ...match(app.client_secret), url: LEAK_URL }]);
    const row = await suite.core.database.db
      .selectFrom('containments')
      .select('id')
      .where('account_id', '=', suite.accountId)
      .where('status', '=', 'open')
      .executeTakeFirstOrThrow();
    containmentId = row.id;
  });
  afterAll(async () => {
    await browser?.close();
    await suite?.close();
  });

  it("shows the maker their app's record, with the leak, what was revoked, and the secret read once", async () => {
    expect(await tokenStatus(app.client_secret)).toBe(401);
    const ada = await pageOf('ada');
    await ada.goto(`${suite.url}/console`);
    const notice = ada.locator('section.made-apps');
    expect(await notice.innerText()).toContain('deploy-bot: rotate_secret since');
    await Promise.all([ada.waitForURL(`**/console/containments/${containmentId}`), notice.getByRole('link').click()]);

    expect(await ada.locator('dd.nhi-subject').innerText()).toContain('App deploy-bot');
    expect(await ada.locator('dd.nhi-maker').innerText()).toBe(`ada <${suite.people.ada!.email}>`);
    expect(await ada.locator('dd.nhi-action').innerText()).toContain('rotate_secret');
    // The leak's URL: an https link, escaped (the markup in it is text).
    const link = ada.locator('a.leak-url');
    expect([await link.getAttribute('href'), await link.innerText()]).toEqual([LEAK_URL, LEAK_URL]);
    expect(await ada.locator('main b').count()).toBe(0);
    // One access token revoked, its jti folded away.
    const accessRow = ada.locator('#revoked ~ table tr', { hasText: 'Access tokens' });
    expect(await accessRow.locator('.count').innerText()).toBe('1');
    const jtis = accessRow.locator('details');
    expect(await jtis.locator('li').first().isVisible()).toBe(false);
    await jtis.locator('summary').click();
    expect(await jtis.locator('li').count()).toBe(1);
    expect(await ada.locator('#changes').count()).toBe(1);
    expect(await seriousViolations(ada)).toEqual([]);
    await screenshot(ada, 'nhi-containment');

    // Read the new secret: shown once, on a page no browser keeps; it works, the leaked one does not.
    const [shown] = await Promise.all([
      ada.waitForResponse((r) => r.url().endsWith('/read-secret')),
      ada.getByRole('button', { name: 'Read the new secret' }).click(),
    ]);
    expect([shown.status(), shown.headers()['cache-control']]).toEqual([200, 'no-store']);
    const secret = await ada.locator('#secret').innerText();
    expect(secret).toMatch(/^cordon_cs_/);
    expect(await ada.locator('main').innerText()).toContain('It will not be shown again');
    expect(await seriousViolations(ada)).toEqual([]);
    expect(await tokenStatus(secret)).toBe(200);
    expect(await tokenStatus(app.client_secret)).toBe(401);

    // Not again: no button, and a post of the form anyway shows no secret.
    await ada.goto(`${suite.url}/console/containments/${containmentId}`);
    expect(await ada.getByRole('button', { name: 'Read the new secret' }).count()).toBe(0);
    const csrf = await ada.locator('meta[name="csrf-token"]').getAttribute('content');
    const again = await ada.request.post(`${suite.url}/console/containments/${containmentId}/read-secret`, {
      form: { _csrf: csrf! },
      headers: { origin: suite.url },
      maxRedirects: 0,
    });
    expect(again.status()).toBe(404);
    const text = await again.text();
    expect(text).toContain('secret_already_read');
    expect(text).not.toContain(secret);
    expect(text).not.toContain('id="secret"');
    // Both reads recorded as the person, through the console; the secret in neither.
    const reads = (await auditTrail(suite.core, suite.accountId)).filter(
      (e) => e.action === 'containment.secret_read' && e.target_id === containmentId,
    );
    expect(reads).toMatchObject([
      { actor_id: suite.people.ada!.id, outcome: 'changed', authz: { via: 'console' } },
      { actor_id: suite.people.ada!.id, outcome: 'refused', details: { code: 'SECRET_ALREADY_READ' } },
    ]);
    expect(JSON.stringify(reads)).not.toContain(secret);

    // Restore: the app gets another new secret (the one read before dies), read once too.
    await ada.goto(`${suite.url}/console/containments/${containmentId}`);
    await Promise.all([
      ada.waitForURL(`**/console/containments/${containmentId}?done=restored`),
      ada.getByRole('button', { name: 'Restore', exact: true }).click(),
    ]);
    expect(await ada.locator('p.flash').innerText()).toContain('Restored: the app works again with a new secret');
    const record = await findContainment(suite.core.database.db, suite.accountId, containmentId);
    expect([record!.status, record!.close_reason]).toEqual(['closed', 'restored']);
    await ada.getByRole('button', { name: 'Read the new secret' }).click();
    const restored = await ada.locator('#secret').innerText();
    expect(restored).not.toBe(secret);
    expect(await tokenStatus(restored)).toBe(200);
    expect(await tokenStatus(secret)).toBe(401);
    expect(await tokenStatus(app.client_secret)).toBe(401);

    // The list names the record by its subject.
    await ada.goto(`${suite.url}/console/containments`);
    const listed = ada.locator('tr', { hasText: containmentId });
    expect(await listed.innerText()).toContain('app deploy-bot');
  });

  it('shows a leak found at a javascript: URL as text, never as a link', async () => {
    const { secret } = await createSource(suite.core.response, testCtx, suite.accountId, {
      name: 'splunk',
      format: 'splunk',
      auth: 'url_token',
    });
    await report([{ ...match(secret!), url: 'javascript:alert(document.cookie)' }]);
    const rows = await suite.core.database.db
      .selectFrom('containments')
      .select('id')
      .where('account_id', '=', suite.accountId)
      .where('status', '=', 'open')
      .execute();
    expect(rows).toHaveLength(1);
    const bob = await pageOf('bob');
    await bob.goto(`${suite.url}/console/containments/${rows[0]!.id}`);
    expect(await bob.locator('dd.nhi-subject').innerText()).toContain('Detection source splunk');
    expect(await bob.locator('a.leak-url').count()).toBe(0);
    expect(await bob.locator('code.leak-url').innerText()).toBe('javascript:alert(document.cookie)');
    expect(await bob.locator('a[href^="javascript"]').count()).toBe(0);
    // Bob made no app: his home page has no such line.
    await bob.goto(`${suite.url}/console`);
    expect(await bob.locator('section.made-apps').count()).toBe(0);
  });
});
