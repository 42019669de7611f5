import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { createAccount } from '../../src/directory/accounts.js';
import { describeBackends } from '../support/backends.js';
import { useServer } from '../support/server.js';
import {
  auditTrail,
  captureLogs,
  choosePassword,
  mintSessionToken,
  rpc,
  seedAccount,
  testCtx,
} from '../support/fixtures.js';
import { fakeTarget, person, type FakeTarget } from '../support/fake-target.js';

const SECRET = 'scim-bearer-token-do-not-leak-1';
const ROTATED = 'scim-bearer-token-do-not-leak-2';
const ANY_TIME = expect.stringMatching(/^\d{4}-\d\d-\d\dT/);

/**
 * Target administration over the routes: each change audited with exactly what it changed, never the
 * credentials; OWNER and ADMIN only, inside their own account. A connector kind of the test's own
 * (test/support/fake-target.ts) stands in for the real ones, installed as `scim`.
 */
describeBackends('target administration', (backend) => {
  let core: Core;
  let server: FastifyInstance;
  let accountId: string;
  let admin: string;
  let member: string;
  let base: string;
  let fake: FakeTarget;
  let restore: () => void;
  const { logger, lines } = captureLogs();
  const suite = useServer(backend, { logger });
  /** Every body answered, for the sweep at the end. */
  const answers: string[] = [];

  beforeAll(async () => {
    ({ core, server } = suite);
    fake = fakeTarget();
    restore = fake.install('scim');
    const seed = await seedAccount(core, 1);
    accountId = seed.accountId;
    admin = await mintSessionToken(core, seed.admin);
    member = await mintSessionToken(core, seed.members[0]!);
    base = `/v1/accounts/${accountId}/targets`;
  });
  afterAll(() => restore());

  const call = async (token: string, options: InjectOptions) => {
    const res = await server.inject({ ...options, headers: { authorization: `Bearer ${token}`, ...options.headers } });
    answers.push(res.body);
    return res;
  };
  const entries = async (action: string) => (await auditTrail(core, accountId)).filter((e) => e.action === action);
  const newTarget = {
    name: 'hr-app',
    kind: 'scim',
    config: { base_url: 'https://hr.example/scim/v2/' },
    credentials: { token: SECRET },
  };

  it('connects a target, shows it without its credentials, and records what was connected', async () => {
    const created = await call(admin, { method: 'POST', url: base, payload: newTarget });
    expect(created.statusCode, created.body).toBe(201);
    const view = {
      id: expect.stringMatching(/^[A-Z2-7]{26}$/),
      name: 'hr-app',
      kind: 'scim',
      config: { base_url: 'https://hr.example/scim/v2' },
      enabled: true,
      max_concurrency: 4,
      max_rate_per_second: 20,
      step_deadline_seconds: 900,
      sync_interval_seconds: 3600,
      credentials_rotate_time: null,
      create_time: ANY_TIME,
      last_sync_time: null,
      last_sync_error: null,
      identities: 0,
    };
    expect(created.json()).toEqual(view);
    const { id } = created.json<{ id: string }>();
    expect((await call(admin, { url: `${base}/${id}` })).json()).toEqual(created.json());
    expect((await call(admin, { url: `${base}/hr-app` })).json()).toEqual(created.json());
    expect((await call(admin, { url: base })).json()).toEqual({ targets: [created.json()] });
    const [entry] = await entries('target.create');
    expect(entry).toMatchObject({
      actor_type: 'user',
      target_type: 'target',
      target_id: id,
      outcome: 'changed',
      details: {
        name: 'hr-app',
        kind: 'scim',
        config: { base_url: 'https://hr.example/scim/v2' },
        enabled: true,
        max_concurrency: 4,
        max_rate_per_second: 20,
        step_deadline_seconds: 900,
        sync_interval_seconds: 3600,
      },
    });
    expect(Object.keys(entry!.details).sort()).toEqual([
      'config',
      'enabled',
      'kind',
      'max_concurrency',
      'max_rate_per_second',
      'name',
      'step_deadline_seconds',
      'sync_interval_seconds',
    ]);
  });

  it('refuses bad input with a 4xx, each refusal audited', async () => {
    const cases: Array<[string, unknown, number, ReturnType<typeof rpc>]> = [
      ['a taken name', newTarget, 409, rpc(6, 'a target named hr-app already exists', 'ALREADY_EXISTS')],
      [
        'the local name',
        { ...newTarget, name: 'cordon' },
        400,
        rpc(3, 'name: `cordon` is the local directory; choose another name', 'INVALID_ARGUMENT'),
      ],
      [
        'a bad name',
        { ...newTarget, name: 'HR App' },
        400,
        rpc(
          3,
          'name: expected 1 to 63 lowercase letters, digits and dashes, starting with a letter or digit',
          'INVALID_ARGUMENT',
        ),
      ],
      [
        'a config its kind refuses',
        { ...newTarget, name: 'x', config: { base_url: 'ftp://x' } },
        400,
        rpc(3, 'config.base_url: expected an http(s) URL', 'INVALID_ARGUMENT'),
      ],
    ];
    for (const [name, payload, status, body] of cases) {
      const res = await call(admin, { method: 'POST', url: base, payload: payload as object });
      expect([res.statusCode, res.json()], name).toEqual([status, body]);
      expect((await auditTrail(core, accountId)).at(-1), name).toMatchObject({
        action: 'target.create',
        outcome: 'refused',
        details: { code: body.details[0]!.reason },
      });
    }
    for (const payload of [
      { ...newTarget, name: 'y', kind: 'okta' },
      { ...newTarget, name: 'y', extra: true },
      { ...newTarget, name: 'y', max_concurrency: 0 },
      { ...newTarget, name: 'y', credentials: 'token' },
      { name: 'y' },
    ]) {
      const res = await call(admin, { method: 'POST', url: base, payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
    }
    const patch = await call(admin, { method: 'PATCH', url: `${base}/hr-app`, payload: {} });
    expect(patch.statusCode).toBe(400);
    const missing = await call(admin, { method: 'PATCH', url: `${base}/nope`, payload: { enabled: false } });
    expect([missing.statusCode, missing.json()]).toEqual([404, rpc(5, 'target not found', 'NOT_FOUND')]);
    expect((await call(admin, { url: `${base}/${'x'.repeat(80)}` })).statusCode).toBe(400);
  });

  it('is for OWNER and ADMIN users of the account only', async () => {
    const refused = await call(member, { url: base });
    expect([refused.statusCode, refused.json()]).toEqual([
      403,
      rpc(7, 'this route is for OWNER or ADMIN users', 'PERMISSION_DENIED'),
    ]);
    const create = await call(member, { method: 'POST', url: base, payload: { ...newTarget, name: 'm' } });
    expect(create.statusCode).toBe(403);
    expect((await auditTrail(core, accountId)).at(-1)).toMatchObject({
      action: 'target.create',
      outcome: 'refused',
      actor_type: 'user',
      details: { code: 'PERMISSION_DENIED' },
    });
    const other = await createAccount(core.directory, testCtx, {
      name: 'Other',
      owner: { email: 'o@other.example', display_name: 'O' },
    });
    await choosePassword(core, other.owner);
    const outsider = await mintSessionToken(core, other.owner);
    expect((await call(outsider, { url: `${base}/hr-app` })).json()).toEqual(
      rpc(7, 'the session belongs to another account', 'PERMISSION_DENIED'),
    );
    const own = `/v1/accounts/${other.account.id}/targets`;
    expect((await call(outsider, { url: own })).json()).toEqual({ targets: [] });
    expect((await call(outsider, { url: `${own}/hr-app` })).statusCode).toBe(404);
  });

  it('changes settings, disables, rotates credentials (dropping the cached connector) and tests', async () => {
    const tested = await call(admin, { method: 'POST', url: `${base}/hr-app:test` });
    expect(tested.json()).toEqual({ ok: true, latency_ms: 3 });
    expect(fake.made.map((m) => m.token)).toEqual([SECRET]);

    const patched = await call(admin, {
      method: 'PATCH',
      url: `${base}/hr-app`,
      payload: { enabled: false, max_concurrency: 8 },
    });
    expect(patched.json()).toMatchObject({ enabled: false, max_concurrency: 8, credentials_rotate_time: null });
    expect((await entries('target.update')).at(-1)).toMatchObject({
      outcome: 'changed',
      details: { name: 'hr-app', changes: { enabled: { from: true, to: false }, max_concurrency: { from: 4, to: 8 } } },
    });

    const rotated = await call(admin, {
      method: 'PATCH',
      url: `${base}/hr-app`,
      payload: { credentials: { token: `wrong-${ROTATED}` } },
    });
    expect(rotated.json()).toMatchObject({ credentials_rotate_time: ANY_TIME, enabled: false });
    expect(fake.made[0]!.closed).toBe(true);
    const [rotation] = await entries('target.credentials.rotate');
    expect(rotation).toMatchObject({ outcome: 'changed', details: { name: 'hr-app', kind: 'scim' } });
    const failing = await call(admin, { method: 'POST', url: `${base}/hr-app:test` });
    expect(failing.json()).toEqual({
      ok: false,
      latency_ms: 3,
      error: { class: 'auth', status: 401, code: 'invalid_token', message: 'token rejected', request_id: 'r-1' },
    });
    expect((await entries('target.test')).map((e) => e.details)).toEqual([
      { name: 'hr-app', kind: 'scim', ok: true, latency_ms: 3 },
      { name: 'hr-app', kind: 'scim', ok: false, latency_ms: 3, error: failing.json<{ error: object }>().error },
    ]);
    const bad = await call(admin, { method: 'PATCH', url: `${base}/hr-app`, payload: { credentials: { token: '' } } });
    expect(bad.json()).toEqual(rpc(3, 'credentials.token: expected a string', 'INVALID_ARGUMENT'));
    await call(admin, {
      method: 'PATCH',
      url: `${base}/hr-app`,
      payload: { credentials: { token: ROTATED }, enabled: true },
    });
    expect(fake.made.map((m) => [m.token.replace(/-do-not-leak.*/, ''), m.closed])).toEqual([
      ['scim-bearer-token', true],
      ['wrong-scim-bearer-token', true],
    ]);
  });

  it('removes a target: its connector closed, its mirror forgotten, its name free', async () => {
    const { id } = (await call(admin, { url: `${base}/hr-app` })).json<{ id: string }>();
    fake.users.set('u0', person('u0', 'ann@x.example'));
    expect((await call(admin, { method: 'POST', url: `${base}/hr-app:sync`, payload: {} })).json()).toMatchObject({
      ok: true,
      seen: 1,
    });
    const held = fake.made.at(-1)!;
    expect(held.closed).toBe(false);
    const removed = await call(admin, { method: 'DELETE', url: `${base}/hr-app` });
    expect([removed.statusCode, removed.body]).toEqual([204, '']);
    expect(held.closed).toBe(true);
    expect((await call(admin, { url: `${base}/${id}` })).statusCode).toBe(404);
    expect((await call(admin, { url: base })).json()).toEqual({ targets: [] });
    expect((await entries('target.remove')).map((e) => [e.target_id, e.details])).toEqual([
      [id, { name: 'hr-app', kind: 'scim' }],
    ]);
    const identities = await core.database.db
      .selectFrom('target_identities')
      .select('external_id')
      .where('account_id', '=', accountId)
      .execute();
    expect(identities).toEqual([]);
    const again = await call(admin, { method: 'POST', url: base, payload: newTarget });
    expect(again.statusCode).toBe(201);
    expect(again.json<{ id: string }>().id).not.toBe(id);
  });

  it('never lets the credentials reach an answer, an audit entry or a log line', async () => {
    await core.audit.settle();
    const log = JSON.stringify(await auditTrail(core, accountId));
    const text = [...answers, log, ...lines].join('\n');
    expect(log).toContain('"target.credentials.rotate"');
    for (const secret of [SECRET, ROTATED, 'wrong-again'])
      for (const form of [secret, Buffer.from(secret).toString('base64'), encodeURIComponent(secret)])
        expect(text).not.toContain(form);
    const sealed = await core.database.db.selectFrom('targets').select('credentials').execute();
    for (const { credentials } of sealed) expect(credentials).toMatch(/^v1\./);
  });
});
