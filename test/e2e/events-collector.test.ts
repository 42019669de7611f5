/**
 * The Events API feed as 1Password's own collectors call it (issue 18 §1, first part): a POST of
 * `{"limit","start_time"}` with no Content-Type (their Go collector), or `text/plain`, read as JSON;
 * items whose typed fields are either absent or valid (never ""), with the caller's recorded address as
 * `session.ip` and its session or token id as `session.uuid`; and `itemusages`, a valid empty feed.
 */
import type { FastifyInstance } from 'fastify';
import { beforeAll, expect, it } from 'vitest';
import { createApp } from '../../src/oauth/apps.js';
import { describeBackends } from '../support/backends.js';
import { appAccessToken, seedAccount, testCtx, type SeededAccount } from '../support/fixtures.js';
import { useServer } from '../support/server.js';

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

/** A strict reading of an item: every typed field absent or valid, as a Go decoder into time.Time would need. */
function checkItem(item: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const walk = (value: unknown, path: string) => {
    if (value === '') problems.push(`${path} is an empty string`);
    if (value && typeof value === 'object')
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) walk(v, `${path}.${k}`);
  };
  walk({ ...item, cordon: undefined }, 'item');
  if (typeof item.timestamp !== 'string' || !RFC3339.test(item.timestamp)) problems.push('timestamp is no RFC 3339');
  const session = item.session as Record<string, unknown> | undefined;
  const loginTime = session?.login_time;
  if (loginTime !== undefined && (typeof loginTime !== 'string' || !RFC3339.test(loginTime)))
    problems.push('session.login_time is no RFC 3339');
  return problems;
}

describeBackends('the Events API feed, as 1Password collectors call it', (backend) => {
  let server: FastifyInstance;
  let seed: SeededAccount;
  let token: string;
  const suite = useServer(backend, { env: { CORDON_OAUTH_RATE_PER_CLIENT: '0' } });
  const post = (url: string, payload: string, headers: Record<string, string> = {}) =>
    server.inject({
      method: 'POST',
      url,
      payload,
      headers: { authorization: `Bearer ${token}`, 'user-agent': 'Go-http-client/1.1', ...headers },
    });

  beforeAll(async () => {
    ({ server } = suite);
    seed = await seedAccount(suite.core, 1);
    const { app, clientSecret } = await createApp(suite.core.directory, testCtx, seed.accountId, {
      name: 'events reader',
      permissions: ['audit:read', 'users:read'],
    });
    token = await appAccessToken(server, app.client_id, clientSecret!);
    // A call the app makes: its entry records the address and the token id.
    const read = await server.inject({
      url: `/v1/accounts/${seed.accountId}/users/${seed.members[0]!.id}`,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(read.statusCode).toBe(200);
    await suite.core.audit.settle();
    await suite.core.audit.sequencer.drain();
  });

  it('reads a body with no Content-Type, or text/plain, as JSON', async () => {
    const body = JSON.stringify({ limit: 1000, start_time: '2000-01-01T00:00:00Z' });
    const none = await post('/api/v2/auditevents', body);
    expect(none.statusCode, none.body).toBe(200);
    const plain = await post('/api/v1/auditevents', body, { 'content-type': 'text/plain; charset=utf-8' });
    expect(plain.statusCode, plain.body).toBe(200);
    expect(plain.json().items).toEqual(none.json().items);
    expect(none.json().items.length).toBeGreaterThan(3);
    const bad = await post('/api/v2/auditevents', '{"limit": ', { 'content-type': 'text/plain' });
    expect(bad.statusCode).toBe(400);
  });

  it('sends no empty typed field, the caller address as session.ip and the token as session.uuid', async () => {
    const items = (
      await post('/api/v2/auditevents', JSON.stringify({ limit: 1000, start_time: '2000-01-01T00:00:00Z' }))
    ).json().items as Array<Record<string, unknown>>;
    expect(items.flatMap(checkItem)).toEqual([]);
    const read = items.find((i) => i.action === 'user.read' && i.object_uuid === seed.members[0]!.id)!;
    const authz = (read.cordon as { authz: { jti: string; address: string } }).authz;
    expect(read.session).toEqual({ uuid: authz.jti, ip: '127.0.0.1' });
    expect(authz.address).toBe('127.0.0.1');
    // An entry of no call (the account's creation by the operator) has no session to speak of.
    expect(items.find((i) => i.action === 'account.create')!.session).toEqual({});
  });

  it('pages with an opaque, MACed cursor that a caller cannot make up', async () => {
    const first = (
      await post('/api/v2/auditevents', JSON.stringify({ limit: 2, start_time: '2000-01-01T00:00:00Z' }))
    ).json();
    expect(first.has_more).toBe(true);
    const second = await post('/api/v2/auditevents', JSON.stringify({ cursor: first.cursor }));
    expect(second.statusCode).toBe(200);
    expect(second.json().items[0].cordon.index).toBe(first.items[1].cordon.index + 1);
    // What the cursor used to be: base64url JSON anyone could write, here pointing at the start of the log.
    const handMade = Buffer.from(JSON.stringify({ next: 0, limit: 1000, start: '2000-01-01T00:00:00Z' })).toString(
      'base64url',
    );
    const refused = {
      code: 3,
      message: 'cursor is not one this server issued for this account: pass back the cursor unchanged',
    };
    for (const cursor of [handMade, `${first.cursor}x`, first.cursor.replace(/^./, 'A')]) {
      const res = await post('/api/v2/auditevents', JSON.stringify({ cursor }));
      expect([res.statusCode, res.json()]).toMatchObject([400, refused]);
    }
  });

  it('serves itemusages as a valid, empty feed', async () => {
    for (const version of ['v1', 'v2']) {
      const reset = await post(
        `/api/${version}/itemusages`,
        JSON.stringify({ limit: 100, start_time: '2000-01-01T00:00:00Z' }),
      );
      expect([reset.statusCode, reset.json()]).toEqual([200, { cursor: 'none', has_more: false, items: [] }]);
      const next = await post(`/api/${version}/itemusages`, JSON.stringify({ cursor: 'none' }));
      expect(next.json()).toEqual({ cursor: 'none', has_more: false, items: [] });
    }
    const anonymous = await server.inject({ method: 'POST', url: '/api/v2/itemusages', payload: '{}' });
    expect(anonymous.statusCode).toBe(401);
  });
});
