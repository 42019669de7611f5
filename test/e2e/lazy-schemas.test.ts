/**
 * The CLI's in-process instance compiles a route's schemas at their first use (src/http/lazy-schemas.ts).
 * It must answer exactly as a served instance does: the same validation errors, the same serialized
 * bodies (unknown fields stripped), the same refusals.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildServer } from '../../src/http/server.js';
import { describeBackends } from '../support/backends.js';
import { seedAccount } from '../support/fixtures.js';
import { useServer } from '../support/server.js';

describeBackends('schemas compiled at first use', (backend) => {
  const suite = useServer(backend);
  let lazy: FastifyInstance;
  const secret = randomBytes(32).toString('base64url');

  beforeAll(async () => {
    lazy = await buildServer(suite.core, { operatorSecret: secret });
    await lazy.ready();
  });
  afterAll(async () => {
    await lazy?.close();
  });

  it('validates, serializes and refuses exactly as a served instance does', async () => {
    const { accountId } = await seedAccount(suite.core, 2);
    const requests = [
      // Validation errors of a body, a query and a path parameter.
      { method: 'POST', url: '/v1/auth/sessions', payload: { email: 5, password: [] } },
      { method: 'POST', url: '/v1/auth/sessions', payload: { email: 'a@b.example' } },
      { method: 'GET', url: `/v1beta1/accounts/${accountId}/users?max_page_size=nope` },
      { method: 'GET', url: '/v1/accounts/not-an-id/users/also-not' },
      // Serialized answers.
      { method: 'GET', url: '/healthz' },
      { method: 'GET', url: '/v1/audit/keys' },
      { method: 'GET', url: '/.well-known/oauth-authorization-server' },
    ] as const;
    for (const request of requests) {
      const served = await suite.server.inject(request);
      const inProcess = await lazy.inject(request);
      expect([inProcess.statusCode, inProcess.body], `${request.method} ${request.url}`).toEqual([
        served.statusCode,
        served.body,
      ]);
    }
    // A first failure and a later success on the same route both come from the one compiled validator.
    const bad = await lazy.inject({ method: 'POST', url: '/v1/auth/sessions', payload: { email: 5 } });
    expect(bad.statusCode).toBe(400);
    const operator = { authorization: `Operator ${secret}` };
    const listed = await lazy.inject({ method: 'GET', url: `/v1/accounts/${accountId}/profiles`, headers: operator });
    expect(listed.statusCode, listed.body).toBe(200);
    expect(Object.keys((JSON.parse(listed.body) as { users: object[] }).users[0]!).sort()).toEqual([
      'create_time',
      'display_name',
      'email',
      'externally_managed',
      'id',
      'role',
      'state',
      'update_time',
    ]);
  });
});
