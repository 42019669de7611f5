/**
 * The users pages over real HTTP: search by email or name fragment (bounded), one user's state, role,
 * groups, live sessions (never a token or its hash) and containment history linking the records; reads
 * audited as the API audits them; MEMBERs refused; another account's user is not found.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSessionToken } from '../../src/auth/sign-in.js';
import { createAccount } from '../../src/directory/accounts.js';
import { BACKENDS } from '../support/backends.js';
import type { ConsoleClient, ConsoleSuite } from '../support/console.js';
import { openContainingSuite, type Containing, type ContainingSuite } from '../support/console-containing.js';
import { auditTrail, testCtx } from '../support/fixtures.js';

describe.each(BACKENDS)('console users pages (%s)', (backend) => {
  let suite: ConsoleSuite;
  let containing: Containing;
  let alice: ConsoleClient;
  let opened: ContainingSuite | undefined;
  beforeAll(async () => {
    opened = await openContainingSuite(backend);
    ({ suite, containing, alice } = opened);
  });
  afterAll(() => opened?.close());

  const rowsOf = (body: string) => [...body.matchAll(/<a href="\/console\/users\/([A-Z2-7]{26})">/g)].map((m) => m[1]);

  it('finds people by email or name fragment, any case, an exact email first', async () => {
    const zoe = await containing.person('zoe.quist', ['Sales']);
    const zed = await containing.person('zed', ['Sales']);
    const azed = await containing.person('azed');
    const byEmail = await alice.page('/console/users?q=ZOE.Q');
    expect(byEmail.status).toBe(200);
    expect(rowsOf(byEmail.body)).toEqual([zoe.id]);
    expect(byEmail.body).toContain('<td>zoe.quist@test.example</td>');
    // Display names are `<name> Person`: a fragment of a name, across the space.
    expect(rowsOf((await alice.page('/console/users?q=QUIST%20PERS')).body)).toEqual([zoe.id]);
    // An exact email first, then the rest by email.
    const search = (q: string) => alice.page(`/console/users?q=${encodeURIComponent(q)}`);
    expect(rowsOf((await search('zed@test.example')).body)).toEqual([zed.id, azed.id]);
    expect(rowsOf((await search('z')).body)).toEqual([azed.id, zed.id, zoe.id]);
    const none = await alice.page('/console/users?q=%3Cscript%3E');
    expect(none.body).toContain("Nobody's email or name holds “&lt;script&gt;”.");
    expect(none.body).toContain('<label for="q">Email or name</label>');
    expect(none.body).not.toMatch(/<script>|<style|style=|\son[a-z]+=/);
    // No query, no list: the form alone.
    expect(rowsOf((await alice.page('/console/users')).body)).toEqual([]);
    const trail = await auditTrail(suite.core, suite.accountId);
    expect(trail.filter((e) => e.action === 'user.list' && e.actor_id === suite.people.alice!.id).length).toBe(5);
    expect(trail.find((e) => e.action === 'user.list' && e.details['query'] === 'ZOE.Q')).toMatchObject({
      actor_type: 'user',
      outcome: 'read',
      authz: { method: 'session', via: 'console' },
    });
  });

  it("shows a user's state, role, groups, live sessions and containment history", async () => {
    const own = await alice.page(`/console/users/${suite.people.alice!.id}`);
    expect(own.status).toBe(200);
    expect(own.body).toMatch(/<dt>Role<\/dt>\s*<dd>admin<\/dd>/);
    // Alice's own console session shows, by kind and times only: never the token, never its hash.
    expect(own.body).toMatch(/<h2 id="sessions">Live sessions<\/h2>\s*<table>[\s\S]*<td>console<\/td>/);
    const token = alice.cookies.get('__Host-cordon')!;
    expect(own.body).not.toContain(token);
    expect(own.body).not.toContain(hashSessionToken(token));
    expect(own.body).not.toMatch(/password_hash|totp|\$argon2|\$scrypt|<script>|<style|style=|\son[a-z]+=/i);

    const vic = await containing.person('vic', ['Sales', 'Ops']);
    const first = (await containing.signal(vic.email)).plan.containment_id;
    const restored = await alice.post(`/console/containments/${first}/restore`, { reason: 'restored' });
    expect(restored.status).toBe(303);
    const second = (await containing.signal(vic.email, 'again.malware')).plan.containment_id;
    const { status, body } = await alice.page(`/console/users/${vic.id}`);
    expect(status).toBe(200);
    expect(body).toMatch(/<dt>State<\/dt>\s*<dd><span class="badge bad">suspended<\/span><\/dd>/);
    expect(body).toMatch(/<dt>Groups<\/dt>\s*<dd>Ops, Sales<\/dd>/);
    expect(body).toContain('No live session.');
    // Newest first, each linking its record.
    const linked = [...body.matchAll(/<a href="\/console\/containments\/([A-Z2-7]{26})">/g)].map((m) => m[1]);
    expect(linked).toEqual([second, first]);
    expect(body).toMatch(/<td>closed<\/td>[\s\S]*restored/);
    const trail = await auditTrail(suite.core, suite.accountId);
    for (const action of ['user.read', 'user.sessions.read'])
      expect(trail.find((e) => e.action === action && e.target_id === vic.id)).toMatchObject({
        actor_type: 'user',
        actor_id: suite.people.alice!.id,
        outcome: 'read',
        authz: { via: 'console' },
      });
  });

  it('refuses a MEMBER, and does not find a user of another account', async () => {
    const mia = await suite.signIn('mia');
    expect((await mia.page('/console/users?q=a')).status).toBe(403);
    expect((await mia.page(`/console/users/${suite.people.alice!.id}`)).status).toBe(403);
    const other = await createAccount(suite.core.directory, testCtx, {
      name: 'Other Co',
      owner: { email: 'boss@other.example', display_name: 'Boss' },
    });
    const foreign = await alice.page(`/console/users/${other.owner.id}`);
    expect(foreign.status).toBe(404);
    expect(foreign.body).not.toContain('boss@other.example');
    expect(rowsOf((await alice.page('/console/users?q=boss')).body)).toEqual([]);
    expect((await alice.page('/console/users/nobody')).status).toBe(404);
  });
});
