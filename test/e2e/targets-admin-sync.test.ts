import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { describeBackends } from '../support/backends.js';
import { useServer } from '../support/server.js';
import { auditTrail, mintSessionToken, rpc, seedAccount } from '../support/fixtures.js';
import { fakeTarget, person, type FakeTarget } from '../support/fake-target.js';

const SECRET = 'scim-bearer-token-do-not-leak-1';
const ANY_TIME = expect.stringMatching(/^\d{4}-\d\d-\d\dT/);

/**
 * Mirroring a target's users on demand over the routes (`POST …/targets/{t}:sync`) and reading the mirror
 * (`GET …/targets/{t}/identities`). A connector kind of the test's own stands in for the real ones.
 */
describeBackends('target sync over the API', (backend) => {
  let core: Core;
  let server: FastifyInstance;
  let accountId: string;
  let admin: string;
  let base: string;
  let fake: FakeTarget;
  let restore: () => void;
  const suite = useServer(backend);

  beforeAll(async () => {
    ({ core, server } = suite);
    fake = fakeTarget();
    restore = fake.install('scim');
    const seed = await seedAccount(core, 1);
    accountId = seed.accountId;
    admin = await mintSessionToken(core, seed.admin);
    base = `/v1/accounts/${accountId}/targets`;
  });
  afterAll(() => restore());

  const call = (token: string, options: InjectOptions) =>
    server.inject({ ...options, headers: { authorization: `Bearer ${token}`, ...options.headers } });
  const entries = async (action: string) => (await auditTrail(core, accountId)).filter((e) => e.action === action);
  const newTarget = {
    name: 'hr-app',
    kind: 'scim',
    config: { base_url: 'https://hr.example/scim/v2/' },
    credentials: { token: SECRET },
  };

  it('connects the target', async () => {
    expect((await call(admin, { method: 'POST', url: base, payload: newTarget })).statusCode).toBe(201);
  });

  it('mirrors the users page by page, forgets those gone, and syncs one subject on demand', async () => {
    for (const [i, email] of ['ann@x.example', 'bob@x.example', 'cy@x.example'].entries())
      fake.users.set(`u${i}`, person(`u${i}`, email));
    fake.listed.length = 0;
    const synced = await call(admin, { method: 'POST', url: `${base}/hr-app:sync`, payload: {} });
    expect(synced.json()).toEqual({
      target_id: expect.any(String),
      mode: 'full',
      ok: true,
      seen: 3,
      removed: 0,
      pages: 2,
    });
    expect(fake.listed).toEqual([undefined, '2']);
    const page = await call(admin, { url: `${base}/hr-app/identities?page_size=2` });
    expect(page.json()).toEqual({
      identities: [
        {
          external_id: 'u0',
          email: 'ann@x.example',
          user_name: 'ann@x.example',
          display_name: 'ann',
          state: 'ACTIVE',
          last_seen_time: ANY_TIME,
        },
        {
          external_id: 'u1',
          email: 'bob@x.example',
          user_name: 'bob@x.example',
          display_name: 'bob',
          state: 'ACTIVE',
          last_seen_time: ANY_TIME,
        },
      ],
      next_page_token: 'u1',
    });
    const byEmail = await call(admin, { url: `${base}/hr-app/identities?email=CY@x.example` });
    expect(byEmail.json<{ identities: Array<{ external_id: string }> }>().identities.map((i) => i.external_id)).toEqual(
      ['u2'],
    );

    // No body at all is a full walk too.
    expect((await call(admin, { method: 'POST', url: `${base}/hr-app:sync` })).json()).toMatchObject({
      mode: 'full',
      seen: 3,
    });
    fake.users.delete('u1');
    fake.users.set('u0', person('u0', 'ann@x.example', 'SUSPENDED'));
    expect((await call(admin, { method: 'POST', url: `${base}/hr-app:sync`, payload: {} })).json()).toMatchObject({
      seen: 2,
      removed: 1,
    });
    const shown = (await call(admin, { url: `${base}/hr-app` })).json<{ identities: number; last_sync_time: string }>();
    expect(shown).toMatchObject({ identities: 2, last_sync_time: ANY_TIME });

    fake.users.set('u9', person('u9', 'dee@x.example'));
    const one = await call(admin, {
      method: 'POST',
      url: `${base}/hr-app:sync`,
      payload: { subject: { email: 'DEE@x.example' } },
    });
    expect(one.json()).toEqual({
      target_id: expect.any(String),
      mode: 'subject',
      ok: true,
      seen: 1,
      removed: 0,
      pages: 0,
    });
    fake.users.delete('u2');
    const gone = await call(admin, {
      method: 'POST',
      url: `${base}/hr-app:sync`,
      payload: { subject: { email: 'cy@x.example' } },
    });
    expect(gone.json()).toMatchObject({ mode: 'subject', seen: 0, removed: 1 });
    const syncs = await entries('target.sync');
    expect(syncs.map((e) => [e.actor_type, e.outcome, e.details.mode, e.details.seen, e.details.removed])).toEqual([
      ['user', 'changed', 'full', 3, 0],
      ['user', 'changed', 'full', 3, 0],
      ['user', 'changed', 'full', 2, 1],
      ['user', 'changed', 'subject', 1, 0],
      ['user', 'changed', 'subject', 0, 1],
    ]);
    expect((await call(admin, { url: `${base}/hr-app` })).json()).toMatchObject({ identities: 2 });
  });

  it('records a failed walk without touching the mirror', async () => {
    await call(admin, { method: 'PATCH', url: `${base}/hr-app`, payload: { credentials: { token: 'wrong-again' } } });
    const failed = await call(admin, { method: 'POST', url: `${base}/hr-app:sync`, payload: {} });
    expect(failed.json()).toMatchObject({ ok: false, seen: 0, error: { class: 'auth', status: 401 } });
    expect((await call(admin, { url: `${base}/hr-app` })).json()).toMatchObject({
      identities: 2,
      last_sync_error: '401: token rejected',
    });
    expect((await entries('target.sync')).at(-1)).toMatchObject({ outcome: 'unchanged', details: { ok: false } });
    // The schedule waits before trying a failed target again; a person may ask at once, and a walk that
    // succeeds clears the error.
    const row = await core.database.db
      .selectFrom('targets')
      .selectAll()
      .where('name', '=', 'hr-app')
      .executeTakeFirst();
    expect(row).toMatchObject({ sync_failed_at: expect.any(Date), sync_lease_until: null });
    await call(admin, { method: 'PATCH', url: `${base}/hr-app`, payload: { credentials: { token: SECRET } } });
    expect((await call(admin, { method: 'POST', url: `${base}/hr-app:sync`, payload: {} })).json()).toMatchObject({
      ok: true,
      seen: 2,
    });
    expect((await call(admin, { url: `${base}/hr-app` })).json()).toMatchObject({ last_sync_error: null });
    // While a walk holds the target's lease, another is refused.
    await core.database.db
      .updateTable('targets')
      .set({ sync_lease_until: new Date(Date.now() + 60_000) })
      .where('account_id', '=', accountId)
      .execute();
    const again = await call(admin, { method: 'POST', url: `${base}/hr-app:sync`, payload: {} });
    expect([again.statusCode, again.json()]).toEqual([
      400,
      rpc(9, 'a sync of this target is already running', 'FAILED_PRECONDITION'),
    ]);
  });
});
