/**
 * One rule for the same input on every route: a NUL character is refused with 400 wherever it comes
 * (path, query, JSON or form body) and nothing is written; emails are real addresses.
 */
import type { FastifyInstance } from 'fastify';
import { beforeAll, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { createApp } from '../../src/oauth/apps.js';
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

const invalid = (message: string, field: string) => ({
  code: 3,
  message,
  details: [
    {
      '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      reason: 'INVALID_ARGUMENT',
      domain: 'cordon',
      metadata: { field },
    },
  ],
});

describeBackends('input consistency', (backend) => {
  let core: Core;
  let server: FastifyInstance;
  let seed: SeededAccount;
  let ownerToken: string;
  let appToken: string;
  let client: { id: string; secret: string };

  const suite = useServer(backend, { env: { CORDON_OAUTH_RATE_PER_CLIENT: '0' } });

  beforeAll(async () => {
    ({ core, server } = suite);
    seed = await seedAccount(core, 1);
    ownerToken = await mintSessionToken(core, seed.owner);
    const app = await createApp(core.directory, testCtx, seed.accountId, {
      name: 'soar',
      permissions: ['users:list', 'users:read', 'users:suspend', 'signals:write'],
    });
    client = { id: app.app.client_id, secret: app.clientSecret! };
    appToken = await appAccessToken(server, client.id, client.secret);
  });

  it('a NUL is refused with 400 on every route, naming where it was, and nothing is written', async () => {
    const users = `/v1/accounts/${seed.accountId}/users`;
    const member = seed.members[0]!;
    const before = (await auditTrail(core, seed.accountId)).length;
    const json = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });

    // A suspend reason: once turned into U+FFFD and the user suspended; now refused.
    const reason = await server.inject({
      method: 'POST',
      url: `${users}/${member.id}:suspend`,
      headers: json(appToken),
      payload: '{"reason":"phish\\u0000ing"}',
    });
    expect([reason.statusCode, reason.json()]).toEqual([
      400,
      invalid('body.reason: text may not contain a NUL character (U+0000)', 'body.reason'),
    ]);
    expect(
      (await core.database.db.selectFrom('users').select('state').where('id', '=', member.id).executeTakeFirstOrThrow())
        .state,
    ).toBe('ACTIVE');

    const query = await server.inject({ url: `${users}?filter=user.isActive()%00`, headers: json(appToken) });
    expect([query.statusCode, query.json()]).toEqual([
      400,
      invalid('query.filter: text may not contain a NUL character (U+0000)', 'query.filter'),
    ]);

    // A path parameter with a pattern is refused by it first: the same 400 INVALID_ARGUMENT.
    const path = await server.inject({ url: `${users}/${member.id}%00`, headers: json(appToken) });
    expect([path.statusCode, path.json().details[0].reason]).toEqual([400, 'INVALID_ARGUMENT']);

    const nested = await server.inject({
      method: 'POST',
      url: `/v1/accounts/${seed.accountId}/signals`,
      headers: json(appToken),
      payload: { external_id: 'n-1', type: 'x', subject: { email: 'a\u0000@b.example' } },
    });
    expect([nested.statusCode, nested.json()]).toEqual([
      400,
      invalid('body.subject.email: text may not contain a NUL character (U+0000)', 'body.subject.email'),
    ]);

    const profile = await server.inject({
      method: 'PATCH',
      url: `${users}/${member.id}`,
      headers: json(ownerToken),
      payload: { display_name: 'x\u0000' },
    });
    expect(profile.statusCode).toBe(400);

    // The OAuth endpoints answer in their own shape (RFC 6749), by the same rule.
    const form = await server.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: {
        authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      payload: 'grant_type=client_credentials&scope=users:list%00',
    });
    expect([form.statusCode, form.json()]).toEqual([
      400,
      { error: 'invalid_request', error_description: 'body.scope: text may not contain a NUL character (U+0000)' },
    ]);

    expect(await core.database.db.selectFrom('signals').select('id').execute()).toEqual([]);
    const changed = (await auditTrail(core, seed.accountId)).slice(before).filter((e) => e.outcome === 'changed');
    expect(changed).toEqual([]);
  });

  it('an email must be a real address: no lone surrogate, no control character', async () => {
    for (const email of [
      'ann\ud800@acme.example',
      'ann\u0007@acme.example',
      'ann@acme.example\u0085',
      'zoë@acme.example',
    ]) {
      const res = await server.inject({
        method: 'POST',
        url: `/v1/accounts/${seed.accountId}/users`,
        headers: { authorization: `Bearer ${ownerToken}` },
        payload: { email, display_name: 'Ann' },
      });
      expect([res.statusCode, res.json().message]).toEqual([400, 'email: expected an email address']);
    }
    const changed = await server.inject({
      method: 'PATCH',
      url: `/v1/accounts/${seed.accountId}/users/${seed.members[0]!.id}`,
      headers: { authorization: `Bearer ${ownerToken}` },
      payload: { email: 'x\udc00@acme.example' },
    });
    expect(changed.statusCode).toBe(400);
    expect(await core.database.db.selectFrom('users').select('email').where('email', 'like', 'ann%').execute()).toEqual(
      [],
    );
  });
});
