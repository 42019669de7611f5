/**
 * The console's front door over real HTTP: `/` sends browsers to it, the sign-in form makes a
 * `__Host-` cookie session, CSRF and cross-site posts are refused, a generated password must be changed
 * first, idle sessions end, and every answer carries the CSP.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { BACKENDS } from '../support/backends.js';
import { auditTrail, mintSessionToken } from '../support/fixtures.js';
import { openConsoleSuite, totpAt, type ConsoleSuite } from '../support/console.js';

describe.each(BACKENDS)('console session (%s)', (backend) => {
  let suite: ConsoleSuite;
  beforeAll(async () => {
    suite = await openConsoleSuite(backend, [['ada', 'ADMIN']], { CORDON_CONSOLE_IDLE_TIMEOUT: '60' });
  });
  afterAll(() => suite?.close());

  it('sends / to the console, and a browser without a session to the sign-in page', async () => {
    const client = suite.client();
    const root = await client.request('/');
    expect([root.status, root.headers.get('location')]).toEqual([302, '/console']);
    const page = await client.request('/console/password');
    expect([page.status, page.headers.get('location')]).toEqual([303, '/console/sign-in?next=%2Fconsole%2Fpassword']);
    const signIn = await client.page('/console/sign-in?next=%2Fconsole%2Fpassword');
    expect(signIn.status).toBe(200);
    expect(signIn.response.headers.get('content-security-policy')).toBe(
      "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
    );
    expect(signIn.body).toContain('<input type="hidden" name="next" value="/console/password" />');
    expect(signIn.body).not.toMatch(/<script>|<style>|style=|\son[a-z]+=/);
  });

  it('signs in with password and TOTP into a __Host- cookie that is Secure, HttpOnly and SameSite=Strict', async () => {
    const client = suite.client();
    await client.page('/console/sign-in');
    const ada = suite.people.ada!;
    const response = await client.request('/console/sign-in', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        _csrf: client.csrf,
        email: ada.email,
        password: ada.password,
        totp: await suite.totp('ada'),
        next: 'https://evil.example/',
      }),
    });
    expect(response.status).toBe(303);
    // An open redirect is not followed: `next` outside the console becomes the console.
    expect(response.headers.get('location')).toBe('/console');
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith('__Host-cordon='))!;
    expect(cookie).toMatch(
      /^__Host-cordon=cordon_sess_[0-9A-Za-z]{49}; Path=\/; Secure; HttpOnly; SameSite=Strict; Max-Age=43200$/,
    );
    const trail = await auditTrail(suite.core, suite.accountId);
    const signIn = trail.filter((e) => e.action === 'user.sign_in' && e.target_id === ada.id).at(-1)!;
    expect([signIn.outcome, signIn.details.kind]).toEqual(['changed', 'console']);
  });

  it('refuses a wrong code with the form again, and no cookie', async () => {
    const client = suite.client();
    await client.page('/console/sign-in');
    const ada = suite.people.ada!;
    const refused = await client.post('/console/sign-in', { email: ada.email, password: ada.password, totp: '000000' });
    expect(refused.status).toBe(401);
    expect(refused.body).toContain('sign-in failed: wrong email, password or code');
    expect(refused.body).toContain(`value="${ada.email}"`);
    expect(client.cookies.has('__Host-cordon')).toBe(false);
  });

  it('refuses a sign-in post without the form token, and a cross-site one', async () => {
    const client = suite.client();
    await client.page('/console/sign-in');
    const ada = suite.people.ada!;
    const form = { email: ada.email, password: ada.password, totp: await suite.totp('ada') };
    const noToken = await client.post('/console/sign-in', { ...form, _csrf: '' });
    expect(noToken.status).toBe(403);
    expect(noToken.body).toContain('the form has expired or did not come from the console');
    const crossSite = await client.post('/console/sign-in', form, { origin: 'https://evil.example' });
    expect(crossSite.status).toBe(403);
    expect(crossSite.body).toContain('a console form may only be sent from the console itself');
    expect(client.cookies.has('__Host-cordon')).toBe(false);
  });

  it('refuses a signed-in post without the CSRF token, and one from another site', async () => {
    const client = await suite.signInWithForm('ada');
    const noToken = await client.post('/console/sign-out', { _csrf: 'x'.repeat(43) });
    expect(noToken.status).toBe(403);
    const crossSite = await client.post('/console/sign-out', {}, { 'sec-fetch-site': 'cross-site' });
    expect(crossSite.status).toBe(403);
    // Still signed in: neither post did anything.
    expect((await client.page('/console/password')).status).toBe(200);
    const out = await client.post('/console/sign-out', {});
    expect([out.status, out.location]).toEqual([303, '/console/sign-in?ended=out']);
    expect((await client.request('/console/password')).status).toBe(303);
  });

  it('sends a generated password to the change page first, then lets the person in', async () => {
    const { resetCredentials } = await import('../../src/directory/credentials.js');
    const { testCtx } = await import('../support/fixtures.js');
    const { createUser } = await import('../../src/directory/users.js');
    const user = await createUser(suite.core.directory, testCtx, suite.accountId, {
      email: 'new@test.example',
      display_name: 'New',
      role: 'ADMIN',
    });
    const { credentials } = await resetCredentials(suite.core.directory, testCtx, suite.accountId, user.id);
    const client = suite.client();
    await client.page('/console/sign-in');
    const signedIn = await client.post('/console/sign-in', {
      email: 'new@test.example',
      password: credentials.password,
      totp: totpAt(credentials.totpSecret),
    });
    expect(signedIn.location).toBe('/console/password');
    expect((await client.request('/console/playbooks')).headers.get('location')).toBe('/console/password');
    await client.page('/console/password');
    const weak = await client.post('/console/password', {
      current_password: credentials.password,
      new_password: 'short',
      confirm_password: 'short',
    });
    expect(weak.status).toBe(400);
    const changed = await client.post('/console/password', {
      current_password: credentials.password,
      new_password: 'a long chosen passphrase',
      confirm_password: 'a long chosen passphrase',
    });
    expect([changed.status, changed.location]).toEqual([303, '/console']);
  });

  it('ends a session unused for longer than the idle timeout, audited', async () => {
    const client = await suite.signIn('ada');
    await sql`UPDATE sessions SET last_seen_at = now() - interval '61 seconds'
      WHERE user_id = ${suite.people.ada!.id} AND revoked_at IS NULL AND kind = 'console'`.execute(
      suite.core.database.db,
    );
    const ended = await client.request('/console/password');
    expect([ended.status, ended.headers.get('location')]).toEqual([303, '/console/sign-in?ended=idle']);
    const trail = await auditTrail(suite.core, suite.accountId);
    const revoke = trail.filter((e) => e.action === 'session.revoke').at(-1)!;
    expect([revoke.target_id, revoke.details.reason]).toEqual([suite.people.ada!.id, 'idle_timeout']);
    expect((await client.request('/console/password')).status).toBe(303);
  });

  it('keeps the console session to the console: the API refuses its token, and the console any other', async () => {
    const client = await suite.signInWithForm('ada');
    const token = client.cookies.get('__Host-cordon')!;
    const api = await fetch(`${suite.url}/v1/auth/sessions/current`, { headers: { authorization: `Bearer ${token}` } });
    expect(api.status).toBe(401);
    expect(((await api.json()) as { message: string }).message).toBe('a console session works only in the console');
    // An API session token planted in the cookie signs nobody in to the console.
    const { mintSessionToken } = await import('../support/fixtures.js');
    const apiToken = await mintSessionToken(suite.core, { account_id: suite.accountId, id: suite.people.ada!.id });
    const planted = suite.client();
    planted.cookies.set('__Host-cordon', apiToken);
    expect((await planted.request('/console/password')).status).toBe(303);
  });

  it('still admits a console session made before the secret format (cdns_), CSRF and sign-out included', async () => {
    const old = `cdns_${randomBytes(32).toString('base64url')}`;
    await mintSessionToken(suite.core, { account_id: suite.accountId, id: suite.people.ada!.id }, 'console', old);
    const client = suite.client();
    client.cookies.set('__Host-cordon', old);
    expect((await client.page('/console/password')).status).toBe(200);
    expect(client.csrf).not.toBe('');
    const out = await client.post('/console/sign-out', {});
    expect([out.status, out.location]).toEqual([303, '/console/sign-in?ended=out']);
    const again = suite.client();
    again.cookies.set('__Host-cordon', old);
    expect((await again.request('/console/password')).status).toBe(303);
  });

  it('answers an unknown console path with an HTML 404 page', async () => {
    const client = await suite.signIn('ada');
    const missing = await client.page('/console/nowhere');
    expect(missing.status).toBe(404);
    expect(missing.body).toContain('no console page /console/nowhere');
    expect(missing.response.headers.get('content-type')).toBe('text/html; charset=utf-8');
  });
});
