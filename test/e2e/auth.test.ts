import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { base32Decode } from '../../src/base32.js';
import { timeStep, totpCode } from '../../src/directory/totp.js';
import { createAccount } from '../../src/directory/accounts.js';
import { suspendUser } from '../../src/directory/user-state.js';
import { createApp } from '../../src/oauth/apps.js';
import { listAuditEntries } from '../../src/store/audit.js';
import { parseSecret } from '../../src/secret-format.js';
import { describeBackends } from '../support/backends.js';
import { rpc, testCtx } from '../support/fixtures.js';
import { openSignInSuite, type Person, type SignInSuite } from '../support/sign-in.js';

/** The TOTP code of `seed`, `offset` steps from now. */
const code = (seed: string, offset = 0) => totpCode(base32Decode(seed), timeStep(Date.now() / 1000) + offset);

describeBackends('human sign-in and admin routes', (backend) => {
  let suite: SignInSuite;
  let core: Core;
  let server: FastifyInstance;
  let accountId: string;
  let otherAccountId: string;
  let logLines: string[];
  let people: Record<string, Person>;

  beforeAll(async () => {
    suite = await openSignInSuite(backend, [
      ['admin', 'ADMIN'],
      ['member', 'MEMBER'],
      ['victim', 'ADMIN'],
      ['guessed', 'MEMBER'],
      ['swarmed', 'MEMBER'],
      ['replayed', 'MEMBER'],
      ['fuzzed', 'MEMBER'],
    ]);
    ({ core, server, accountId, logLines, people } = suite);
    const other = await createAccount(core.directory, testCtx, {
      name: 'Other',
      owner: { email: 'owner@other.example', display_name: 'O' },
    });
    otherAccountId = other.account.id;
    people.outsider = { id: other.owner.id, email: other.owner.email, creds: other.ownerCredentials };
  });
  afterAll(() => suite.close());

  const signIn = (body: Record<string, unknown>) =>
    server.inject({
      method: 'POST',
      url: '/v1/auth/sessions',
      payload: body,
      headers: { 'user-agent': 'cordon-cli/0.1' },
    });
  const signInAs = async (name: string, offset = 0) => {
    const person = people[name]!;
    const account = name === 'outsider' ? otherAccountId : accountId;
    const res = await signIn({
      account_id: account,
      email: person.email,
      password: person.creds.password,
      totp: code(person.creds.totpSecret, offset),
      kind: 'cli',
    });
    expect(res.statusCode, res.body).toBe(201);
    const token = res.json().session_token as string;
    // The first sign-in with a generated password must replace it before the session can do anything else.
    if (res.json().password_change_required) {
      const chosen = `${person.creds.password}, changed`;
      const changed = await server.inject({
        method: 'POST',
        url: '/v1/auth/password',
        headers: as(token),
        payload: { current_password: person.creds.password, new_password: chosen },
      });
      expect(changed.statusCode, changed.body).toBe(200);
      person.creds = { ...person.creds, password: chosen };
    }
    return token;
  };
  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  const entries = async (action: string) => {
    await core.audit.settle();
    await core.audit.sequencer.drain();
    return (await listAuditEntries(core.database.db, { accountId })).filter((e) => e.action === action);
  };

  it('signs a person in with password and TOTP: an opaque token once, the session, an audit entry', async () => {
    const person = people.owner!;
    const res = await signIn({
      email: person.email.toUpperCase(),
      account_id: accountId,
      password: person.creds.password,
      totp: code(person.creds.totpSecret),
    });
    expect(res.statusCode).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(parseSecret(body.session_token)).toEqual({ ok: true, kind: 'sess' });
    expect(body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 43_200,
      account_id: accountId,
      kind: 'web',
      user: { id: person.id, email: person.email, display_name: 'Owner', role: 'OWNER' },
      password_change_required: true,
    });
    expect(Date.parse(body.expire_time) - Date.parse(body.create_time)).toBeGreaterThan(43_190_000);

    const current = await server.inject({ url: '/v1/auth/sessions/current', headers: as(body.session_token) });
    expect(current.json()).toEqual({
      session_id: body.session_id,
      account_id: accountId,
      kind: 'web',
      create_time: body.create_time,
      expire_time: body.expire_time,
      user: body.user,
      password_change_required: true,
    });

    // Only the hash is stored.
    const row = await core.database.db
      .selectFrom('sessions')
      .selectAll()
      .where('id', '=', body.session_id)
      .executeTakeFirstOrThrow();
    expect(row.token_hash).not.toContain(body.session_token.slice(5, 20));

    const [entry] = (await entries('user.sign_in')).filter((e) => e.outcome === 'changed' && e.target_id === person.id);
    expect(entry).toMatchObject({
      actor_type: 'user',
      actor_id: person.id,
      authz: { method: 'password+totp' },
      details: { session_id: body.session_id, kind: 'web', user_agent: 'cordon-cli/0.1' },
    });
  });

  it('fails every wrong credential alike, audits why, and keeps secrets out of entries and logs', async () => {
    const person = people.member!;
    const failed = rpc(16, 'sign-in failed: wrong email, password or code', 'SIGN_IN_FAILED');
    const attempts = [
      { account_id: accountId, email: person.email, password: 'wrong-password-1', totp: code(person.creds.totpSecret) },
      {
        account_id: accountId,
        email: person.email,
        password: person.creds.password,
        totp: '000000' === code(person.creds.totpSecret) ? '111111' : '000000',
      },
      {
        account_id: accountId,
        email: 'nobody@test.example',
        password: person.creds.password,
        totp: code(person.creds.totpSecret),
      },
      {
        account_id: 'AAAAAAAAAAAAAAAAAAAAAAAAAA',
        email: person.email,
        password: person.creds.password,
        totp: code(person.creds.totpSecret),
      },
    ];
    for (const attempt of attempts) {
      const res = await signIn(attempt);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual(failed);
    }
    const refused = (await entries('user.sign_in')).filter((e) => e.outcome === 'refused');
    expect(refused.map((e) => [e.actor_type, e.target_type, e.target_id, e.details.reason])).toEqual(
      expect.arrayContaining([
        ['anonymous', 'user', person.id, 'bad_password'],
        ['anonymous', 'user', person.id, 'bad_totp'],
        ['anonymous', 'email', 'nobody@test.example', 'unknown_email'],
      ]),
    );
    const text = JSON.stringify(await listAuditEntries(core.database.db, { accountId })) + logLines.join('');
    for (const secret of [person.creds.password, person.creds.totpSecret, 'wrong-password-1'])
      expect(text).not.toContain(secret);
    // Malformed bodies are 400s in the same shape, never 5xx.
    for (const body of [
      {},
      { email: 'x' },
      { email: 'x', password: 'y', totp: 'z', extra: 1 },
      { email: 1, password: [], totp: null },
    ]) {
      const res = await signIn(body);
      expect(res.statusCode).toBe(400);
      expect(res.json().details[0].reason).toBe('INVALID_ARGUMENT');
    }
  });

  it('never answers a 5xx to any sign-in body or session header (fuzzed)', async () => {
    const person = people.fuzzed!;
    const value = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.integer(),
      fc.constant(null),
      fc.array(fc.string(), { maxLength: 2 }),
      fc.constantFrom(accountId, person.email, 'x'.repeat(5000)),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.constantFrom('account_id', 'email', 'password', 'totp', 'kind', 'x'), value, { maxKeys: 6 }),
        fc.option(
          fc.oneof(
            fc.string({ maxLength: 80 }),
            fc
              .tuple(fc.constantFrom('cordon_sess_', 'cdns_'), fc.string({ maxLength: 60 }))
              .map(([p, t]) => `Bearer ${p}${t}`),
          ),
          { nil: undefined },
        ),
        async (body, authorization) => {
          const res = await server.inject({ method: 'POST', url: '/v1/auth/sessions', payload: body });
          expect(res.statusCode).toBeLessThan(500);
          expect(res.json().details[0].reason).toMatch(/^[A-Z_]+$/);
          const current = await server.inject({
            url: '/v1/auth/sessions/current',
            headers: authorization === undefined ? {} : { authorization },
          });
          expect(current.statusCode).toBe(401);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a TOTP code used once already', async () => {
    const person = people.replayed!;
    const totp = code(person.creds.totpSecret);
    expect(
      (await signIn({ account_id: accountId, email: person.email, password: person.creds.password, totp })).statusCode,
    ).toBe(201);
    const again = await signIn({ account_id: accountId, email: person.email, password: person.creds.password, totp });
    expect(again.statusCode).toBe(401);
    expect(
      (await entries('user.sign_in')).filter((e) => e.target_id === person.id).map((e) => e.details.reason ?? 'ok'),
    ).toEqual(['ok', 'bad_totp']);
  });

  it('backs off after 5 failures in a row, even for the right credentials, with Retry-After', async () => {
    const person = people.guessed!;
    for (let i = 0; i < 5; i++) {
      expect(
        (await signIn({ account_id: accountId, email: person.email, password: `guess-${i}`, totp: '123456' }))
          .statusCode,
      ).toBe(401);
    }
    const blocked = await signIn({
      account_id: accountId,
      email: person.email,
      password: person.creds.password,
      totp: code(person.creds.totpSecret),
    });
    expect(blocked.statusCode).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(blocked.json()).toEqual(
      rpc(8, 'too many failed sign-ins for this user: wait before trying again', 'SIGN_IN_BACKOFF'),
    );
    expect(
      (await entries('user.sign_in')).filter((e) => e.target_id === person.id).map((e) => e.details.reason),
    ).toEqual([...Array(5).fill('bad_password'), 'backoff']);
  });

  it('counts parallel guesses before checking them: a swarm gets only a handful of tries', async () => {
    const person = people.swarmed!;
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        signIn({ account_id: accountId, email: person.email, password: `swarm-${i}`, totp: '123456' }),
      ),
    );
    const checked = results.filter((r) => r.statusCode === 401).length;
    expect(results.every((r) => r.statusCode === 401 || r.statusCode === 429)).toBe(true);
    // 5 free attempts, then each blocks the next for 2 s, 4 s …: a slow machine may let one more through.
    expect(checked).toBeGreaterThanOrEqual(5);
    expect(checked).toBeLessThanOrEqual(7);
  });

  it('ends sessions at sign-out, on suspension and on expiry; a suspended person cannot sign in', async () => {
    const token = await signInAs('admin');
    const out = await server.inject({ method: 'DELETE', url: '/v1/auth/sessions/current', headers: as(token) });
    expect(out.statusCode).toBe(204);
    const after = await server.inject({ url: '/v1/auth/sessions/current', headers: as(token) });
    expect(after.statusCode).toBe(401);
    expect(after.headers['www-authenticate']).toBe('Bearer realm="cordon"');
    expect(after.json()).toEqual(
      rpc(16, 'the session is signed out, expired or revoked: sign in again', 'UNAUTHENTICATED'),
    );

    const victim = await signInAs('victim');
    await suspendUser(core.directory, testCtx, accountId, people.victim!.id);
    expect((await server.inject({ url: '/v1/auth/sessions/current', headers: as(victim) })).statusCode).toBe(401);
    const person = people.victim!;
    const res = await signIn({
      account_id: accountId,
      email: person.email,
      password: person.creds.password,
      totp: code(person.creds.totpSecret, 1),
    });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual(rpc(7, 'the user is suspended', 'USER_SUSPENDED'));

    const expiring = await signInAs('admin', 1);
    await core.database.db
      .updateTable('sessions')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('revoked_at', 'is', null)
      .where('user_id', '=', people.admin!.id)
      .execute();
    expect((await server.inject({ url: '/v1/auth/sessions/current', headers: as(expiring) })).statusCode).toBe(401);
  });

  it('lets OWNER and ADMIN sessions administer apps, and nobody else', async () => {
    const owner = await signInAs('owner', 1);
    const member = await signInAs('member', 1);
    const outsider = await signInAs('outsider');
    const base = `/v1/accounts/${accountId}/apps`;

    const created = await server.inject({
      method: 'POST',
      url: base,
      headers: as(owner),
      payload: {
        name: 'SOAR',
        permissions: ['users:suspend'],
        constraints: { protected_roles: ['OWNER'], max_suspensions_per_hour: 10 },
      },
    });
    expect(created.statusCode).toBe(201);
    const app = created.json();
    expect(app).toMatchObject({
      name: 'SOAR',
      permissions: ['users:suspend'],
      auth_method: 'client_secret_basic',
      dpop_required: false,
      constraints: { allowed_group_ids: [], protected_roles: ['OWNER'], max_suspensions_per_hour: 10 },
      disable_time: null,
    });
    expect(parseSecret(app.client_secret)).toEqual({ ok: true, kind: 'cs' });

    const listed = await server.inject({ url: base, headers: as(owner) });
    expect(listed.json().apps.map((a: { id: string }) => a.id)).toEqual([app.id]);
    expect(listed.body).not.toContain(app.client_secret);
    const got = await server.inject({ url: `${base}/${app.id}`, headers: as(owner) });
    expect(got.json()).toEqual(Object.fromEntries(Object.entries(app).filter(([k]) => k !== 'client_secret')));

    const rotated = await server.inject({ method: 'POST', url: `${base}/${app.id}:rotateSecret`, headers: as(owner) });
    expect(rotated.json().client_secret).not.toBe(app.client_secret);
    const disabled = await server.inject({ method: 'POST', url: `${base}/${app.id}:disable`, headers: as(owner) });
    expect(disabled.json()).toMatchObject({ changed: true, app: { id: app.id } });
    expect(
      (await server.inject({ method: 'POST', url: `${base}/${app.id}:disable`, headers: as(owner) })).json().changed,
    ).toBe(false);

    const [entry] = await entries('app.create');
    expect(entry).toMatchObject({
      actor_type: 'user',
      actor_id: people.owner!.id,
      authz: { method: 'session', role: 'OWNER' },
    });
    expect(JSON.stringify(await listAuditEntries(core.database.db, { accountId }))).not.toContain(app.client_secret);

    // A member, another account's owner, an app token, no token: refused, and nothing is created.
    const forbidden = rpc(7, 'this route is for OWNER or ADMIN users', 'PERMISSION_DENIED');
    expect(
      (
        await server.inject({
          method: 'POST',
          url: base,
          headers: as(member),
          payload: { name: 'x', permissions: ['users:list'] },
        })
      ).json(),
    ).toEqual(forbidden);
    const foreign = await server.inject({ url: base, headers: as(outsider) });
    expect([foreign.statusCode, foreign.json()]).toEqual([
      403,
      rpc(7, 'the session belongs to another account', 'PERMISSION_DENIED'),
    ]);
    const { clientSecret, app: tokenApp } = await createApp(core.directory, testCtx, accountId, {
      name: 'all',
      permissions: ['users:list', 'users:read', 'users:suspend', 'users:reactivate', 'signals:write', 'audit:read'],
    });
    const token = await server.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: {
        authorization: `Basic ${Buffer.from(`${tokenApp.client_id}:${clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      payload: 'grant_type=client_credentials',
    });
    const withAppToken = await server.inject({ url: base, headers: as(token.json().access_token) });
    expect(withAppToken.statusCode).toBe(403);
    expect(withAppToken.json().details[0].reason).toBe('SESSION_REQUIRED');
    expect((await server.inject({ url: base })).statusCode).toBe(401);
    expect(
      (await server.inject({ url: `${base}/${app.id}:frobnicate`, method: 'POST', headers: as(owner) })).statusCode,
    ).toBe(404);
    expect((await entries('app.create')).filter((e) => e.outcome === 'changed').map((e) => e.actor_id)).toEqual([
      people.owner!.id,
      testCtx.actor.id,
    ]);
    // The member's attempt is in the log, refused, under the member.
    expect((await entries('app.create')).filter((e) => e.outcome === 'refused').map((e) => e.actor_id)).toEqual([
      people.member!.id,
    ]);
  });
});
