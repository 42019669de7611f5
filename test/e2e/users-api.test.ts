import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { decodeJwt } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { createAccount } from '../../src/directory/accounts.js';
import { reactivateUser } from '../../src/directory/user-state.js';
import { createUser, insertUsersWithGroups } from '../../src/directory/users.js';
import { newId } from '../../src/ids.js';
import { createApp } from '../../src/oauth/apps.js';
import { listGroups } from '../../src/store/groups.js';
import { insertSession } from '../../src/store/sessions.js';
import { listUsers, type ListedUser } from '../../src/store/users.js';
import { describeBackends } from '../support/backends.js';
import { useServer } from '../support/server.js';
import {
  appAccessToken,
  auditTrail,
  mintSessionToken,
  seedAccount,
  testCtx,
  type SeededAccount,
} from '../support/fixtures.js';

/** The contract's User object, written out here rather than taken from the code under test. */
const apiUser = (u: ListedUser) => ({
  id: u.id,
  email: u.email,
  display_name: u.display_name,
  state: u.state,
  create_time: u.created_at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
  path: `accounts/${u.account_id}/users/${u.id}`,
});
const errorInfo = (reason: string, metadata?: Record<string, string>) => [
  { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'cordon', ...(metadata ? { metadata } : {}) },
];
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

describeBackends('Users API (1Password-compatible)', (backend) => {
  let core: Core;
  let server: FastifyInstance;
  let url: string;
  let seed: SeededAccount;
  let otherAccountId: string;
  const apps: Record<string, { clientId: string; secret: string }> = {};
  const tokens: Record<string, string> = {};

  const suite = useServer(backend, {
    env: { CORDON_OAUTH_RATE_PER_CLIENT: '0', CORDON_OAUTH_RATE_PER_ADDRESS: '0' },
    listen: true,
  });

  beforeAll(async () => {
    ({ core, server } = suite);
    seed = await seedAccount(core, 3);
    const staff = (await listGroups(core.database.db, seed.accountId)).find((g) => g.name === 'Staff')!;
    const other = await createAccount(core.directory, testCtx, {
      name: 'Other',
      owner: { email: 'owner@other.example', display_name: 'O' },
    });
    otherAccountId = other.account.id;
    const make = async (name: string, accountId: string, input: Omit<Parameters<typeof createApp>[3], 'name'>) => {
      const { app, clientSecret } = await createApp(core.directory, testCtx, accountId, { name, ...input });
      apps[name] = { clientId: app.client_id, secret: clientSecret! };
    };
    const all = ['users:list', 'users:read', 'users:suspend', 'users:reactivate'];
    await make('kibana', seed.accountId, { permissions: all });
    await make('reader', seed.accountId, { permissions: ['users:list', 'users:read'] });
    await make('constrained', seed.accountId, {
      permissions: all,
      protected_roles: ['ADMIN'],
      allowed_group_ids: [staff.id],
      max_suspensions_per_hour: 2,
    });
    await make('outsider', otherAccountId, { permissions: all });
    url = suite.url;
    core.issuer = url;
    for (const name of Object.keys(apps)) tokens[name] = await token(name);
  });

  const token = (name: string, path?: string) => appAccessToken(server, apps[name]!.clientId, apps[name]!.secret, path);
  const as = (name: string, extra: Record<string, string> = {}) => ({
    authorization: `Bearer ${tokens[name]}`,
    ...extra,
  });
  const call = (options: InjectOptions) => server.inject(options);
  const usersOf = async (accountId: string) => listUsers(core.database.db, { accountId, limit: 100_000 });
  const userNow = async (id: string) => (await usersOf(seed.accountId)).find((u) => u.id === id)!;

  it(
    "serves the Kibana connector's sequence at both versions: token " +
      '(Basic, scope=openid), list, filter, get, suspend, reactivate',
    async () => {
      const member = seed.members[0]!;
      await insertSession(core.database.db, {
        account_id: seed.accountId,
        id: newId(),
        user_id: member.id,
        kind: 'web',
      });
      for (const [prefix, tokenPath] of [
        ['/v1beta1', '/v1beta1/users/oauth2/token'],
        ['/v1', '/v1/oauth/token'],
      ] as const) {
        const ua = { 'user-agent': 'ElasticKibana' };
        const tokenRes = await fetch(`${url}${tokenPath}`, {
          method: 'POST',
          headers: {
            authorization: basic(apps.kibana!.clientId, apps.kibana!.secret),
            'content-type': 'application/x-www-form-urlencoded',
            ...ua,
          },
          body: 'grant_type=client_credentials&scope=openid',
        });
        expect(tokenRes.status).toBe(200);
        const {
          access_token: accessToken,
          token_type: tokenType,
          expires_in: expiresIn,
        } = (await tokenRes.json()) as { access_token: string; token_type: string; expires_in: number };
        expect([tokenType, expiresIn]).toEqual(['Bearer', 900]);
        const h = { authorization: `Bearer ${accessToken}`, ...ua };
        const base = `${url}${prefix}/accounts/${seed.accountId}/users`;
        const everyone = await usersOf(seed.accountId);

        // The connectivity test: one user, and a token for the next page.
        const first = await fetch(`${base}?maxPageSize=1`, { headers: h });
        expect(first.status).toBe(200);
        expect(await first.json()).toEqual({ results: [apiUser(everyone[0]!)], next_page_token: expect.any(String) });

        const active = await fetch(`${base}?filter=user.isActive()&maxPageSize=100`, { headers: h });
        expect(await active.json()).toEqual({ results: everyone.filter((u) => u.state === 'ACTIVE').map(apiUser) });

        const got = await fetch(`${base}/${member.id}`, { headers: h });
        expect(await got.json()).toEqual(apiUser(await userNow(member.id)));

        // :suspend with no body, twice (idempotent), then :reactivate with a JSON content type and an empty body.
        const suspended = await fetch(`${base}/${member.id}:suspend`, { method: 'POST', headers: h });
        expect([suspended.status, await suspended.json()]).toEqual([200, { ...apiUser(member), state: 'SUSPENDED' }]);
        const again = await fetch(`${base}/${member.id}:suspend`, { method: 'POST', headers: h });
        expect([again.status, await again.json()]).toEqual([200, { ...apiUser(member), state: 'SUSPENDED' }]);
        const reactivated = await fetch(`${base}/${member.id}:reactivate`, {
          method: 'POST',
          headers: { ...h, 'content-type': 'application/json' },
          body: '',
        });
        expect([reactivated.status, await reactivated.json()]).toEqual([200, apiUser(member)]);

        // Every call is in the log: who (app, token jti, permissions), from where, and what came of it.
        const trail = (await auditTrail(core, seed.accountId)).filter(
          (e) => (e.authz as { jti?: string }).jti === decodeJwt(accessToken).jti,
        );
        const authz = {
          method: 'bearer',
          client_id: apps.kibana!.clientId,
          jti: decodeJwt(accessToken).jti,
          permissions: ['users:list', 'users:read', 'users:suspend', 'users:reactivate'],
          address: '127.0.0.1',
          user_agent: 'ElasticKibana',
        };
        expect(trail.map((e) => [e.action, e.outcome, e.target_id, e.actor_type, e.actor_id, e.authz])).toEqual([
          ['user.list', 'read', seed.accountId, 'app', apps.kibana!.clientId, authz],
          ['user.list', 'read', seed.accountId, 'app', apps.kibana!.clientId, authz],
          ['user.read', 'read', member.id, 'app', apps.kibana!.clientId, authz],
          ['user.suspend', 'changed', member.id, 'app', apps.kibana!.clientId, authz],
          ['user.suspend', 'unchanged', member.id, 'app', apps.kibana!.clientId, authz],
          ['user.reactivate', 'changed', member.id, 'app', apps.kibana!.clientId, authz],
        ]);
        expect(trail[0]!.details).toEqual({ filter: '', page_size: 1 });
        if (prefix === '/v1beta1')
          expect((trail[3]!.details as { sessions_revoked: string[] }).sessions_revoked).toHaveLength(1);
      }
    },
  );

  it('takes a Nango-style token request (no scope) and a reason for the audit entry', async () => {
    // Nango sends grant_type alone, as appAccessToken does.
    const nango = await token('kibana', '/v1beta1/users/oauth2/token');
    const member = seed.members[1]!;
    const res = await call({
      method: 'POST',
      url: `/v1beta1/accounts/${seed.accountId}/users/${member.id}:suspend`,
      headers: { authorization: `Bearer ${nango}` },
      payload: { reason: 'impossible travel', ticket: 'SOC-42', signal_id: 'sig-1' },
    });
    expect(res.json()).toEqual({ ...apiUser(member), state: 'SUSPENDED' });
    const entry = (await auditTrail(core, seed.accountId)).at(-1)!;
    expect(entry).toMatchObject({
      action: 'user.suspend',
      outcome: 'changed',
      cause: { reason: 'impossible travel', ticket: 'SOC-42', signal_id: 'sig-1' },
    });
    await reactivateUser(core.directory, testCtx, seed.accountId, member.id);
  });

  it('answers both version prefixes identically', async () => {
    const paths = [
      'users',
      'users?max_page_size=2',
      'users?filter=user.isSuspended()',
      'users?filter=user.isDeleted()',
      'users?max_page_size=-1',
      `users/${seed.members[2]!.id}`,
      'users/AAAAAAAAAAAAAAAAAAAAAAAAAA',
    ];
    for (const path of paths) {
      const [beta, ga] = await Promise.all(
        ['/v1beta1', '/v1'].map((prefix) =>
          call({ url: `${prefix}/accounts/${seed.accountId}/${path}`, headers: as('reader') }),
        ),
      );
      expect([ga!.statusCode, ga!.json()], path).toEqual([beta!.statusCode, beta!.json()]);
    }
    const page = await call({
      url: `/v1beta1/accounts/${seed.accountId}/users?max_page_size=2`,
      headers: as('reader'),
    });
    const next = await call({
      url: `/v1/accounts/${seed.accountId}/users?max_page_size=2&page_token=${page.json().next_page_token}`,
      headers: as('reader'),
    });
    expect(next.json().results.map((u: { id: string }) => u.id)).toEqual(
      (await usersOf(seed.accountId)).slice(2, 4).map((u) => u.id),
    );
    // A token is bound to its filter and account: carried over to another filter, or edited, it is refused.
    const token = page.json().next_page_token as string;
    for (const query of [
      `filter=user.isActive()&page_token=${token}`,
      `pageToken=${token.replace(/^./, (c) => (c === 'W' ? 'X' : 'W'))}`,
    ]) {
      const res = await call({ url: `/v1/accounts/${seed.accountId}/users?${query}`, headers: as('reader') });
      expect([res.statusCode, res.json().details[0].metadata], query).toEqual([400, { field: 'page_token' }]);
    }
  });

  it('answers each refusal with its exact body, changes nothing, and audits it', async () => {
    const base = `/v1/accounts/${seed.accountId}/users`;
    const member = seed.members[0]!;
    const cases: Array<[string, InjectOptions, number, Record<string, unknown>, string | undefined]> = [
      [
        'no token',
        { method: 'POST', url: `${base}/${member.id}:suspend` },
        401,
        { code: 16, message: 'a bearer access token is required', details: errorInfo('UNAUTHENTICATED') },
        'Bearer realm="cordon"',
      ],
      [
        'a bad token',
        { method: 'POST', url: `${base}/${member.id}:suspend`, headers: { authorization: 'Bearer not.a.token' } },
        401,
        { code: 16, message: 'the access token is invalid or expired', details: errorInfo('UNAUTHENTICATED') },
        'Bearer realm="cordon", error="invalid_token"',
      ],
      [
        'a missing permission',
        { method: 'POST', url: `${base}/${member.id}:suspend`, headers: as('reader') },
        403,
        {
          code: 7,
          message: 'the access token lacks the users:suspend permission',
          details: errorInfo('PERMISSION_DENIED'),
        },
        'Bearer realm="cordon", error="insufficient_scope", scope="users:suspend"',
      ],
      [
        'another account',
        { method: 'POST', url: `${base}/${member.id}:suspend`, headers: as('outsider') },
        403,
        { code: 7, message: 'the access token belongs to another account', details: errorInfo('PERMISSION_DENIED') },
        'Bearer realm="cordon", error="insufficient_scope"',
      ],
      [
        'an unknown user',
        { method: 'POST', url: `${base}/AAAAAAAAAAAAAAAAAAAAAAAAAA:suspend`, headers: as('kibana') },
        404,
        {
          code: 5,
          message: 'user not found',
          details: errorInfo('USER_NOT_FOUND', { user_id: 'AAAAAAAAAAAAAAAAAAAAAAAAAA' }),
        },
        undefined,
      ],
      [
        'the last owner',
        { method: 'POST', url: `${base}/${seed.owner.id}:suspend`, headers: as('kibana') },
        403,
        { code: 7, message: 'no_owner_remain', details: errorInfo('LAST_OWNER', { user_id: seed.owner.id }) },
        undefined,
      ],
      [
        'an externally managed user',
        { method: 'POST', url: `${base}/${seed.eam.id}:suspend`, headers: as('kibana') },
        403,
        {
          code: 7,
          message: 'externally_managed_user: the user is managed by an external identity provider',
          details: errorInfo('EXTERNALLY_MANAGED', { user_id: seed.eam.id }),
        },
        undefined,
      ],
      [
        'a role the app may not touch',
        { method: 'POST', url: `${base}/${seed.admin.id}:suspend`, headers: as('constrained') },
        403,
        {
          code: 7,
          message: 'app_constraint: the app may not act on ADMIN users',
          details: errorInfo('APP_CONSTRAINT', { constraint: 'protected_roles', role: 'ADMIN' }),
        },
        undefined,
      ],
      [
        'a user outside the app’s groups',
        { method: 'POST', url: `${base}/${seed.owner.id}:reactivate`, headers: as('constrained') },
        403,
        {
          code: 7,
          message: 'app_constraint: the user is in none of the groups the app may act on',
          details: errorInfo('APP_CONSTRAINT', { constraint: 'allowed_group_ids' }),
        },
        undefined,
      ],
      [
        'a body with an unknown field',
        {
          method: 'POST',
          url: `${base}/${member.id}:suspend`,
          headers: as('kibana'),
          payload: { reason: 'x', force: true },
        },
        400,
        { code: 3, message: 'body must NOT have additional properties', details: errorInfo('INVALID_ARGUMENT') },
        undefined,
      ],
      [
        'a forged page token',
        { url: `${base}?page_token=WyJBQUFBIl0.forged`, headers: as('kibana') },
        400,
        {
          code: 3,
          message:
            'page_token is not valid for this request: pass back next_page_token unchanged, with the same filter',
          details: errorInfo('INVALID_ARGUMENT', { field: 'page_token' }),
        },
        undefined,
      ],
      [
        'a bad filter',
        { url: `${base}?filter=user.isActive()%20OR%20true`, headers: as('kibana') },
        400,
        {
          code: 3,
          message: 'filter must be user.isActive() or user.isSuspended(), or empty',
          details: errorInfo('INVALID_ARGUMENT', { field: 'filter' }),
        },
        undefined,
      ],
      [
        'a non-numeric page size',
        { url: `${base}?maxPageSize=ten`, headers: as('kibana') },
        400,
        {
          code: 3,
          message: 'max_page_size must be a positive integer',
          details: errorInfo('INVALID_ARGUMENT', { field: 'max_page_size' }),
        },
        undefined,
      ],
    ];
    for (const [name, request, status, body, challenge] of cases) {
      const before = await usersOf(seed.accountId);
      const logged = (await auditTrail(core, seed.accountId)).length;
      const res = await call(request);
      expect([res.statusCode, res.json()], name).toEqual([status, body]);
      expect(res.headers['www-authenticate'], name).toBe(challenge);
      expect(await usersOf(seed.accountId), name).toEqual(before);
      const trail = await auditTrail(core, seed.accountId);
      // A caller that did not authenticate leaves nothing in the account's log (its refusal is tallied in the system
      // log).
      if (status === 401) {
        expect(trail.length, name).toBe(logged);
        continue;
      }
      expect(trail.length, name).toBe(logged + 1);
      expect(trail.at(-1)!, name).toMatchObject({
        outcome: 'refused',
        details: { code: body.details && (body.details as Array<{ reason: string }>)[0]!.reason },
      });
    }
  });

  it('holds an app to its suspensions per hour (429 with Retry-After), counting only changes', async () => {
    const base = `/v1/accounts/${seed.accountId}/users`;
    const [a, b, c] = seed.members;
    for (const user of [a!, a!, b!])
      expect(
        (await call({ method: 'POST', url: `${base}/${user.id}:suspend`, headers: as('constrained') })).statusCode,
      ).toBe(200);
    const capped = await call({ method: 'POST', url: `${base}/${c!.id}:suspend`, headers: as('constrained') });
    expect(capped.statusCode).toBe(429);
    expect(capped.json()).toEqual({
      code: 8,
      message: expect.stringMatching(
        /^suspension_cap: the app may suspend 2 users an hour; the next one is allowed in \d+ s$/,
      ),
      details: errorInfo('SUSPENSION_CAP', { constraint: 'max_suspensions_per_hour', cap: '2' }),
    });
    expect(Number(capped.headers['retry-after'])).toBeGreaterThan(3500);
    expect((await userNow(c!.id)).state).toBe('ACTIVE');
    // Reactivations are not capped; another app is not held by this one's count.
    for (const user of [a!, b!])
      expect(
        (await call({ method: 'POST', url: `${base}/${user.id}:reactivate`, headers: as('constrained') })).statusCode,
      ).toBe(200);
    expect((await call({ method: 'POST', url: `${base}/${c!.id}:suspend`, headers: as('kibana') })).statusCode).toBe(
      200,
    );
    await reactivateUser(core.directory, testCtx, seed.accountId, c!.id);
  });

  it('lets OWNER and ADMIN sessions use the same routes, and no MEMBER session', async () => {
    const base = `/v1/accounts/${seed.accountId}/users`;
    const adminToken = await mintSessionToken(core, seed.admin);
    const list = await call({ url: `${base}?max_page_size=1000`, headers: { authorization: `Bearer ${adminToken}` } });
    expect(list.json()).toEqual({ results: (await usersOf(seed.accountId)).map(apiUser) });
    // An ADMIN acts on MEMBERs only: suspending an OWNER would let one admin lock the owners out.
    const refused = await call({
      method: 'POST',
      url: `${base}/${seed.owner.id}:suspend`,
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect([refused.statusCode, refused.json()]).toEqual([
      403,
      { code: 7, message: 'only an OWNER may suspend an OWNER', details: errorInfo('PERMISSION_DENIED') },
    ]);
    const ownerToken = await mintSessionToken(core, seed.owner);
    const byOwner = await call({
      method: 'POST',
      url: `${base}/${seed.admin.id}:suspend`,
      headers: { authorization: `Bearer ${ownerToken}` },
    });
    expect(byOwner.json()).toMatchObject({ id: seed.admin.id, state: 'SUSPENDED' });
    await reactivateUser(core.directory, testCtx, seed.accountId, seed.admin.id);
    const memberToken = await mintSessionToken(core, seed.members[2]!);
    expect((await call({ url: base, headers: { authorization: `Bearer ${memberToken}` } })).json()).toEqual({
      code: 7,
      message: 'this route is for OWNER or ADMIN users',
      details: errorInfo('PERMISSION_DENIED'),
    });
    const entry = (await auditTrail(core, seed.accountId)).at(-1)!;
    expect(entry).toMatchObject({
      action: 'user.list',
      outcome: 'refused',
      actor_type: 'user',
      actor_id: seed.members[2]!.id,
    });
  });

  it('answers unknown routes and methods in the same error shape', async () => {
    for (const [method, path] of [
      ['GET', `/v1/accounts/${seed.accountId}/users/${seed.owner.id}:frobnicate`],
      ['DELETE', `/v1beta1/accounts/${seed.accountId}/users/${seed.owner.id}`],
      ['GET', '/v2/accounts/x/users'],
    ] as const) {
      const res = await call({ method, url: path, headers: as('kibana') });
      expect([res.statusCode, res.json()]).toEqual([
        404,
        { code: 5, message: `no route ${method} ${path}`, details: errorInfo('NOT_FOUND') },
      ]);
    }
  });

  describe('paging', () => {
    it('lists 2,500 users 100 at a time, each exactly once, while another client suspends users', async () => {
      const { account } = await createAccount(core.directory, testCtx, {
        name: 'Big',
        owner: { email: 'owner@big.example', display_name: 'O' },
      });
      const people = await core.audit.transact((trx) =>
        insertUsersWithGroups(
          core.directory,
          trx,
          testCtx,
          account.id,
          Array.from({ length: 2_499 }, (_, i) => ({ email: `p${i}@big.example`, display_name: `P ${i}` })),
        ),
      );
      const { app: pager, clientSecret: pagerSecret } = await createApp(core.directory, testCtx, account.id, {
        name: 'probo',
        permissions: ['users:list'],
      });
      const { app: soar, clientSecret: soarSecret } = await createApp(core.directory, testCtx, account.id, {
        name: 'soar',
        permissions: ['users:suspend'],
      });
      apps.probo = { clientId: pager.client_id, secret: pagerSecret! };
      apps.soar = { clientId: soar.client_id, secret: soarSecret! };
      const [pagerToken, soarToken] = [await token('probo'), await token('soar')];
      const expected = new Set((await usersOf(account.id)).map((u) => u.id));
      expect(expected.size).toBe(2_500);

      let paging = true;
      const victims = [...people].sort(() => Math.random() - 0.5);
      const suspender = (async () => {
        let n = 0;
        while (paging && n < victims.length) {
          const res = await fetch(`${url}/v1/accounts/${account.id}/users/${victims[n++]!.id}:suspend`, {
            method: 'POST',
            headers: { authorization: `Bearer ${soarToken}` },
          });
          expect(res.status).toBe(200);
          // New users arrive meanwhile too: they may or may not be listed, but nobody is skipped or repeated.
          if (n % 10 === 0)
            await createUser(core.directory, testCtx, account.id, {
              email: `late${n}@big.example`,
              display_name: 'Late',
            });
        }
        return n;
      })();
      const seen: string[] = [];
      let pages = 0;
      for (let pageToken: string | undefined; ;) {
        const res = await fetch(
          `${url}/v1beta1/accounts/${account.id}/users?max_page_size=100` +
            `${pageToken ? `&page_token=${encodeURIComponent(pageToken)}` : ''}`,
          { headers: { authorization: `Bearer ${pagerToken}`, accept: 'application/json' } },
        );
        expect(res.status).toBe(200);
        const body = (await res.json()) as { results: Array<{ id: string }>; next_page_token?: string };
        seen.push(...body.results.map((u) => u.id));
        pages++;
        if (body.next_page_token === undefined) break;
        pageToken = body.next_page_token;
      }
      paging = false;
      const suspensions = await suspender;
      expect(suspensions).toBeGreaterThan(0);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.filter((id) => expected.has(id))).toHaveLength(2_500);
      expect(pages).toBeGreaterThanOrEqual(25);
    });
  });

  it(
    'fuzzing paths, queries and bodies: no 5xx, no change ' + 'from a refused call, every authenticated call audited',
    async () => {
      const ids = [seed.members[0]!.id, seed.members[1]!.id, seed.owner.id, seed.eam.id, 'AAAAAAAAAAAAAAAAAAAAAAAAAA'];
      const text = fc.oneof(
        fc.string({ maxLength: 30 }),
        fc.constantFrom(
          'user.isActive()',
          'user.isSuspended()',
          '',
          '0',
          '-1',
          '1001',
          '25',
          'WyJBIl0.x',
          '%',
          '\u0000',
          '\ud800',
          'a\u0000b',
        ),
      );
      const query = fc.dictionary(
        fc.constantFrom('filter', 'max_page_size', 'maxPageSize', 'page_token', 'pageToken', 'other'),
        text,
        { maxKeys: 4 },
      );
      const body = fc.oneof(
        fc.constant(undefined),
        fc.constant(''),
        fc.json({ maxDepth: 2 }),
        fc.record({ reason: fc.string() }, { requiredKeys: [] }),
        fc.constantFrom('{"reason":"\\ud800"}', '{"reason":"a\\u0000b"}', '{"ticket":"\\u0000"}'),
      );
      const request = fc.record({
        prefix: fc.constantFrom('/v1beta1', '/v1'),
        user: fc.oneof(fc.constantFrom(...ids), fc.string({ minLength: 1, maxLength: 40 })),
        verb: fc.constantFrom('list', 'get', 'suspend', 'reactivate'),
        query,
        body,
        app: fc.constantFrom('kibana', 'reader', 'constrained', 'outsider', 'none'),
        json: fc.boolean(),
      });
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          const base = `${r.prefix}/accounts/${seed.accountId}/users`;
          const path =
            r.verb === 'list' ? base : `${base}/${encodeURIComponent(r.user)}${r.verb === 'get' ? '' : `:${r.verb}`}`;
          const qs = new URLSearchParams(r.query).toString();
          const before = await usersOf(seed.accountId);
          const logged = (await auditTrail(core, seed.accountId)).length;
          const res = await call({
            method: r.verb === 'list' || r.verb === 'get' ? 'GET' : 'POST',
            url: qs ? `${path}?${qs}` : path,
            headers: {
              ...(r.app === 'none' ? {} : as(r.app)),
              ...(r.json ? { 'content-type': 'application/json' } : {}),
            },
            ...(r.body === undefined || r.verb === 'list' || r.verb === 'get'
              ? {}
              : { payload: typeof r.body === 'string' ? r.body : JSON.stringify(r.body) }),
          });
          expect(res.statusCode, res.body).toBeLessThan(500);
          const answer = res.json<{ code?: number; message?: string }>();
          if (res.statusCode >= 400) {
            expect(answer).toEqual({
              code: expect.any(Number),
              message: expect.any(String),
              details: expect.any(Array),
            });
            expect(await usersOf(seed.accountId)).toEqual(before);
          }
          // A path no route matched is not a Users API call, and a caller without a token has no say in the
          // account's log; every other call leaves exactly one entry.
          const entries = answer.message?.startsWith('no route') || r.app === 'none' ? 0 : 1;
          expect((await auditTrail(core, seed.accountId)).length).toBe(logged + entries);
          // Put back what a successful suspension changed (only the kibana app can, and only members).
          for (const user of await usersOf(seed.accountId))
            if (user.state === 'SUSPENDED') await reactivateUser(core.directory, testCtx, seed.accountId, user.id);
        }),
        { numRuns: 60 },
      );
    },
  );
});

describeBackends('Users API OpenAPI document', (backend) => {
  let core: Core;
  let server: FastifyInstance;
  const suite = useServer(backend);

  beforeAll(() => {
    ({ core, server } = suite);
  });

  it('describes every compatible operation well enough for a client built from it alone', async () => {
    const seed = await seedAccount(core, 2);
    const { app, clientSecret } = await createApp(core.directory, testCtx, seed.accountId, {
      name: 'gen',
      permissions: ['users:list', 'users:read', 'users:suspend', 'users:reactivate'],
    });
    const accessToken = await appAccessToken(server, app.client_id, clientSecret!);
    const doc = (await server.inject({ url: '/openapi.json' })).json<{
      paths: Record<
        string,
        Record<
          string,
          {
            operationId: string;
            parameters: Array<{ in: string; name: string }>;
            responses: Record<string, { content: Record<string, { schema: object }> }>;
          }
        >
      >;
    }>();
    // A "generated client": operations found by operationId, URLs built from the path templates, answers validated
    // against the documented schemas.
    const operations = new Map(
      Object.entries(doc.paths).flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, op]) => [op.operationId, { path, method, op }] as const),
      ),
    );
    const ajv = addFormats.default(new Ajv.default({ strict: false }));
    const member = seed.members[0]!;
    for (const version of ['', '_v1beta1']) {
      for (const [operationId, query] of [
        ['ListUsers', '?max_page_size=1'],
        ['GetUser', ''],
        ['SuspendUser', ''],
        ['ReactivateUser', ''],
      ] as const) {
        const found = operations.get(`${operationId}${version}`);
        expect(found, `${operationId}${version}`).toBeDefined();
        const { path, method, op } = found!;
        expect(
          op.parameters
            .filter((p) => p.in === 'path')
            .map((p) => p.name)
            .sort(),
        ).toEqual(operationId === 'ListUsers' ? ['account'] : ['account', 'user']);
        const res = await server.inject({
          method: method.toUpperCase() as 'GET',
          url: path.replace('{account}', seed.accountId).replace('{user}', member.id) + query,
          headers: { authorization: `Bearer ${accessToken}` },
        });
        expect(res.statusCode, `${operationId}${version}`).toBe(200);
        const validate = ajv.compile(op.responses['200']!.content['application/json']!.schema);
        expect(validate(res.json()), JSON.stringify(validate.errors)).toBe(true);
        // The User object is exactly the contract's: an extra field would fail a strict client.
        const user = operationId === 'ListUsers' ? res.json<{ results: object[] }>().results[0]! : res.json();
        expect(Object.keys(user).sort()).toEqual(['create_time', 'display_name', 'email', 'id', 'path', 'state']);
      }
    }
    const list = operations
      .get('ListUsers')!
      .op.parameters.filter((p) => p.in === 'query')
      .map((p) => p.name);
    expect(list).toEqual(expect.arrayContaining(['filter', 'max_page_size', 'page_token']));
  });
});
