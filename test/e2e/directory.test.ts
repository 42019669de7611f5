import fc from 'fast-check';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { beforeAll, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { createAccount } from '../../src/directory/accounts.js';
import { createApp } from '../../src/oauth/apps.js';
import { findUserById } from '../../src/store/users.js';
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

const errorInfo = (reason: string, metadata?: Record<string, string>) => [
  { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'cordon', ...(metadata ? { metadata } : {}) },
];

describeBackends('directory administration', (backend) => {
  let core: Core;
  let server: FastifyInstance;
  let seed: SeededAccount;
  let owner: string;
  let admin: string;
  let base: string;

  const suite = useServer(backend);

  beforeAll(async () => {
    ({ core, server } = suite);
    seed = await seedAccount(core, 2);
    owner = await mintSessionToken(core, seed.owner);
    admin = await mintSessionToken(core, seed.admin);
    base = `/v1/accounts/${seed.accountId}`;
  });

  const call = (token: string, options: InjectOptions) =>
    server.inject({ ...options, headers: { authorization: `Bearer ${token}`, ...options.headers } });
  const lastEntry = async () => (await auditTrail(core, seed.accountId)).at(-1)!;

  it('creates, reads, changes and deletes a user, each change audited with the person who made it', async () => {
    const created = await call(owner, {
      method: 'POST',
      url: `${base}/users`,
      payload: { email: 'new@test.example', display_name: 'New', role: 'ADMIN', groups: ['Responders'] },
    });
    expect(created.statusCode, created.body).toBe(200);
    const user = created.json();
    expect(user).toEqual({
      id: expect.stringMatching(/^[A-Z2-7]{26}$/),
      email: 'new@test.example',
      display_name: 'New',
      state: 'ACTIVE',
      role: 'ADMIN',
      externally_managed: false,
      group_ids: [expect.any(String)],
      create_time: expect.any(String),
      update_time: expect.any(String),
    });
    expect((await call(owner, { url: `${base}/users/${user.id}/profile` })).json()).toEqual(user);

    const patched = await call(owner, {
      method: 'PATCH',
      url: `${base}/users/${user.id}`,
      payload: { display_name: 'Renamed', role: 'MEMBER', externally_managed: true },
    });
    expect(patched.json()).toMatchObject({ display_name: 'Renamed', role: 'MEMBER', externally_managed: true });
    expect(await lastEntry()).toMatchObject({
      action: 'user.update',
      actor_type: 'user',
      actor_id: seed.owner.id,
      target_id: user.id,
      details: {
        from: { display_name: 'New', role: 'ADMIN', externally_managed: false },
        to: { display_name: 'Renamed', role: 'MEMBER', externally_managed: true },
      },
    });
    // The Users API now refuses to suspend the user: they are managed elsewhere.
    const { app, clientSecret } = await createApp(core.directory, testCtx, seed.accountId, {
      name: 'soar',
      permissions: ['users:suspend'],
    });
    const token = await appAccessToken(server, app.client_id, clientSecret!);
    expect(
      (
        await server.inject({
          method: 'POST',
          url: `${base}/users/${user.id}:suspend`,
          headers: { authorization: `Bearer ${token}` },
        })
      ).json(),
    ).toMatchObject({ code: 7, details: errorInfo('EXTERNALLY_MANAGED', { user_id: user.id }) });

    const session = await mintSessionToken(core, { account_id: seed.accountId, id: user.id });
    const sessions = (await call(owner, { url: `${base}/users/${user.id}/sessions` })).json();
    expect(sessions).toEqual({
      sessions: [
        {
          id: expect.any(String),
          kind: 'cli',
          create_time: expect.any(String),
          expire_time: expect.any(String),
          revoke_time: null,
          revoke_reason: null,
        },
      ],
    });
    expect(JSON.stringify(sessions)).not.toContain(session.slice(5, 20));

    const deleted = await call(owner, { method: 'DELETE', url: `${base}/users/${user.id}` });
    expect(deleted.json()).toEqual({ id: user.id, email: 'new@test.example' });
    expect(await findUserById(core.database.db, seed.accountId, user.id)).toBeUndefined();
    expect(await lastEntry()).toMatchObject({
      action: 'user.delete',
      target_id: user.id,
      details: { email: 'new@test.example', role: 'MEMBER', state: 'ACTIVE' },
    });
    expect((await call(owner, { url: `${base}/users/${user.id}/profile` })).statusCode).toBe(404);
  });

  it('manages groups and memberships, idempotently', async () => {
    const group = (await call(owner, { method: 'POST', url: `${base}/groups`, payload: { name: 'Oncall' } })).json();
    expect(group).toEqual({ id: expect.any(String), name: 'Oncall', member_ids: [], create_time: expect.any(String) });
    const member = seed.members[0]!.id;
    const put = () => call(admin, { method: 'PUT', url: `${base}/groups/${group.id}/members/${member}` });
    expect((await put()).json()).toEqual({ changed: true });
    expect((await put()).json()).toEqual({ changed: false });
    expect((await call(owner, { url: `${base}/groups/${group.id}` })).json()).toMatchObject({ member_ids: [member] });
    expect((await call(owner, { url: `${base}/groups` })).json().groups.map((g: { name: string }) => g.name)).toEqual([
      'Oncall',
      'Responders',
      'Staff',
    ]);
    expect(
      (await call(admin, { method: 'DELETE', url: `${base}/groups/${group.id}/members/${member}` })).json(),
    ).toEqual({ changed: true });
    expect((await call(owner, { method: 'POST', url: `${base}/groups`, payload: { name: 'oncall' } })).json()).toEqual({
      code: 6,
      message: 'a group with this name already exists',
      details: errorInfo('ALREADY_EXISTS'),
    });
    await put();
    expect((await call(owner, { method: 'DELETE', url: `${base}/groups/${group.id}` })).json()).toEqual({
      id: group.id,
      name: 'Oncall',
    });
    expect(await lastEntry()).toMatchObject({
      action: 'group.delete',
      target_id: group.id,
      details: { name: 'Oncall', members: [member] },
    });
    expect((await call(owner, { url: `${base}/groups/${group.id}` })).json()).toEqual({
      code: 5,
      message: 'group not found',
      details: errorInfo('GROUP_NOT_FOUND', { group_id: group.id }),
    });
  });

  it('keeps an ADMIN to MEMBERs, keeps an owner, and refuses apps and other accounts', async () => {
    const staff = (await call(owner, { url: `${base}/groups` }))
      .json()
      .groups.find((g: { name: string }) => g.name === 'Staff').id as string;
    expect(
      (await call(owner, { method: 'PUT', url: `${base}/groups/${staff}/members/${seed.admin.id}` })).json(),
    ).toEqual({ changed: true });
    const refusals: Array<[string, string, InjectOptions, number, Record<string, unknown>]> = [
      [
        'an ADMIN creating an ADMIN',
        admin,
        {
          method: 'POST',
          url: `${base}/users`,
          payload: { email: 'a2@test.example', display_name: 'A2', role: 'ADMIN' },
        },
        403,
        { code: 7, message: 'only an OWNER may create an ADMIN', details: errorInfo('PERMISSION_DENIED') },
      ],
      [
        'an ADMIN promoting a MEMBER',
        admin,
        { method: 'PATCH', url: `${base}/users/${seed.members[1]!.id}`, payload: { role: 'OWNER' } },
        403,
        { code: 7, message: 'only an OWNER may make a user an OWNER', details: errorInfo('PERMISSION_DENIED') },
      ],
      [
        'an ADMIN deleting the owner',
        admin,
        { method: 'DELETE', url: `${base}/users/${seed.owner.id}` },
        403,
        { code: 7, message: 'only an OWNER may delete an OWNER', details: errorInfo('PERMISSION_DENIED') },
      ],
      [
        'the last owner demoting themself',
        owner,
        { method: 'PATCH', url: `${base}/users/${seed.owner.id}`, payload: { role: 'ADMIN' } },
        403,
        { code: 7, message: 'no_owner_remain', details: errorInfo('LAST_OWNER', { user_id: seed.owner.id }) },
      ],
      [
        'the last owner deleted',
        owner,
        { method: 'DELETE', url: `${base}/users/${seed.owner.id}` },
        403,
        { code: 7, message: 'no_owner_remain', details: errorInfo('LAST_OWNER', { user_id: seed.owner.id }) },
      ],
      [
        'an ADMIN moving an ADMIN between groups',
        admin,
        { method: 'PUT', url: `${base}/groups/${staff}/members/${seed.eam.id}` },
        403,
        {
          code: 7,
          message: 'only an OWNER may change the groups of an ADMIN',
          details: errorInfo('PERMISSION_DENIED'),
        },
      ],
      [
        'an ADMIN deleting a group with an ADMIN in it',
        admin,
        { method: 'DELETE', url: `${base}/groups/${staff}` },
        403,
        {
          code: 7,
          message: 'only an OWNER may delete a group with ADMIN or OWNER members',
          details: errorInfo('PERMISSION_DENIED'),
        },
      ],
      [
        'a NUL in a name',
        owner,
        { method: 'POST', url: `${base}/users`, payload: { email: 'nul@test.example', display_name: 'a\u0000b' } },
        400,
        {
          code: 3,
          message: 'body.display_name: text may not contain a NUL character (U+0000)',
          details: errorInfo('INVALID_ARGUMENT', { field: 'body.display_name' }),
        },
      ],
      [
        'a taken email',
        owner,
        { method: 'PATCH', url: `${base}/users/${seed.members[1]!.id}`, payload: { email: 'ADMIN@test.example' } },
        409,
        { code: 6, message: 'a user with this email already exists', details: errorInfo('EMAIL_TAKEN') },
      ],
      [
        'an empty change',
        owner,
        { method: 'PATCH', url: `${base}/users/${seed.members[1]!.id}`, payload: {} },
        400,
        {
          code: 3,
          message: 'give at least one of email, display_name, role, externally_managed',
          details: errorInfo('INVALID_ARGUMENT'),
        },
      ],
      [
        'a MEMBER session',
        await mintSessionToken(core, seed.members[1]!),
        { url: `${base}/groups` },
        403,
        { code: 7, message: 'this route is for OWNER or ADMIN users', details: errorInfo('PERMISSION_DENIED') },
      ],
    ];
    for (const [name, token, options, status, body] of refusals) {
      const res = await call(token, options);
      expect([res.statusCode, res.json()], name).toEqual([status, body]);
      // Each refusal is in the log, under the person who tried.
      expect(await lastEntry(), name).toMatchObject({
        outcome: 'refused',
        actor_type: 'user',
        details: { code: (body.details as Array<{ reason: string }>)[0]!.reason },
      });
    }
    expect((await findUserById(core.database.db, seed.accountId, seed.owner.id))!.role).toBe('OWNER');

    const other = await createAccount(core.directory, testCtx, {
      name: 'Other',
      owner: { email: 'o@other.example', display_name: 'O' },
    });
    const outsider = await mintSessionToken(core, other.owner);
    expect((await call(outsider, { url: `${base}/groups` })).json()).toEqual({
      code: 7,
      message: 'the session belongs to another account',
      details: errorInfo('PERMISSION_DENIED'),
    });
    const { app, clientSecret } = await createApp(core.directory, testCtx, seed.accountId, {
      name: 'machine',
      permissions: ['users:list', 'users:read'],
    });
    const token = await appAccessToken(server, app.client_id, clientSecret!);
    const refused = await server.inject({
      method: 'POST',
      url: `${base}/users`,
      headers: { authorization: `Bearer ${token}` },
      payload: { email: 'x@test.example', display_name: 'X' },
    });
    // The app did authenticate: 403, and a person's session is what it would take.
    expect([refused.statusCode, refused.json().details[0].reason]).toEqual([403, 'SESSION_REQUIRED']);
  });

  it('fuzzing bodies and ids: no 5xx, the documented error shape, and the owner kept', async () => {
    const ids = [seed.members[0]!.id, seed.members[1]!.id, seed.owner.id, 'AAAAAAAAAAAAAAAAAAAAAAAAAA'];
    const value = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom('OWNER', 'ADMIN', 'MEMBER', 'x@y.example', 'n\u0000l@y.example', 'a\u0000b', '\ud800', ''),
      fc.boolean(),
      fc.integer(),
      fc.constant(null),
    );
    const body = fc.oneof(
      fc.dictionary(
        fc.constantFrom('email', 'display_name', 'role', 'externally_managed', 'groups', 'name', 'extra'),
        value,
        { maxKeys: 4 },
      ),
      fc.json({ maxDepth: 2 }).map((text) => JSON.parse(text) as unknown),
    );
    const request = fc.record({
      route: fc.constantFrom('createUser', 'updateUser', 'deleteUser', 'createGroup', 'member'),
      id: fc.oneof(fc.constantFrom(...ids, '%00', 'A\u0000'), fc.string({ minLength: 1, maxLength: 30 })),
      body,
      as: fc.constantFrom('owner', 'admin'),
    });
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const token = r.as === 'owner' ? owner : admin;
        const id = encodeURIComponent(r.id);
        const options: InjectOptions =
          r.route === 'createUser'
            ? { method: 'POST', url: `${base}/users`, payload: r.body as object }
            : r.route === 'updateUser'
              ? { method: 'PATCH', url: `${base}/users/${id}`, payload: r.body as object }
              : r.route === 'deleteUser'
                ? { method: 'DELETE', url: `${base}/users/${id}` }
                : r.route === 'createGroup'
                  ? { method: 'POST', url: `${base}/groups`, payload: r.body as object }
                  : { method: 'PUT', url: `${base}/groups/${id}/members/${seed.members[0]!.id}` };
        const res = await call(token, { ...options, headers: { 'content-type': 'application/json' } });
        expect(res.statusCode, res.body).toBeLessThan(500);
        if (res.statusCode >= 400)
          expect(res.json()).toEqual({
            code: expect.any(Number),
            message: expect.any(String),
            details: expect.any(Array),
          });
        const ownerNow = await findUserById(core.database.db, seed.accountId, seed.owner.id);
        expect(ownerNow).toMatchObject({ role: 'OWNER', state: 'ACTIVE' });
      }),
      { numRuns: 80 },
    );
  });

  it(
    'lists users as administrators see them (role, externally managed), finds ' +
      'one by email, and imports a file all or nothing with progress events',
    async () => {
      const listed = await call(admin, { url: `${base}/profiles?max_page_size=1` });
      expect(listed.statusCode, listed.body).toBe(200);
      const first = listed.json();
      expect(first.users).toHaveLength(1);
      expect(Object.keys(first.users[0]).sort()).toEqual([
        'create_time',
        'display_name',
        'email',
        'externally_managed',
        'id',
        'role',
        'state',
        'update_time',
      ]);
      expect(first.next_after).toBe(first.users[0].id);
      const next = (await call(admin, { url: `${base}/profiles?after=${first.next_after}` })).json();
      expect(next.users.every((u: { id: string }) => u.id > first.next_after)).toBe(true);
      const byEmail = (
        await call(owner, { url: `${base}/profiles?email=${encodeURIComponent(first.users[0].email.toUpperCase())}` })
      ).json();
      expect(byEmail).toEqual({ users: [first.users[0]] });
      expect((await call(owner, { url: `${base}/profiles?email=nobody@test.example` })).json()).toEqual({ users: [] });

      const importing = (token: string, body: string, type = 'text/csv') =>
        call(token, { method: 'POST', url: `${base}/users:import`, payload: body, headers: { 'content-type': type } });
      const events = (body: string) =>
        body
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line));
      const done = await importing(
        owner,
        'email,display_name,role\nimp1@test.example,Imp One,admin\nimp2@test.example,Imp Two,\n',
      );
      expect([done.statusCode, done.headers['content-type']]).toEqual([200, 'application/x-ndjson']);
      expect(events(done.body)).toEqual([
        { type: 'progress', done: 0, total: 2 },
        { type: 'progress', done: 2, total: 2 },
        { type: 'done', imported: 2, seconds: expect.any(Number) },
      ]);
      const rejected = await importing(
        owner,
        '{"email":"imp1@test.example","display_name":"Again"}\n',
        'application/x-ndjson',
      );
      expect(events(rejected.body)).toEqual([
        { type: 'progress', done: 0, total: 1 },
        {
          type: 'error',
          code: 'INVALID_ARGUMENT',
          message: '1 problem(s) in 1 row(s); nothing was imported',
          problems: [{ line: 1, problem: 'email: a user with this email already exists' }],
        },
      ]);
      // An ADMIN imports MEMBERs only, as an ADMIN creates them.
      // The refusal is an ordinary error answer, before any event, and is audited under the ADMIN.
      const refused = await importing(admin, 'email,display_name,role\nimp3@test.example,Imp Three,owner\n');
      expect([refused.statusCode, refused.json()]).toEqual([
        403,
        { code: 7, message: 'only an OWNER may import an OWNER', details: errorInfo('PERMISSION_DENIED') },
      ]);
      expect(await lastEntry()).toMatchObject({
        action: 'user.import',
        outcome: 'refused',
        actor_type: 'user',
        actor_id: seed.admin.id,
        details: { code: 'PERMISSION_DENIED' },
      });
      expect((await call(owner, { url: `${base}/profiles?email=imp3@test.example` })).json()).toEqual({ users: [] });
      // The Users API's app tokens never import, and nobody reaches the local operator's routes here.
      expect(
        (
          await server.inject({
            method: 'POST',
            url: `${base}/users:import`,
            payload: 'x',
            headers: { 'content-type': 'text/csv' },
          })
        ).statusCode,
      ).toBe(401);
      expect((await call(owner, { url: '/v1/accounts' })).statusCode).toBe(401);
    },
  );
});
