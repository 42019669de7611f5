import { beforeAll, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { createSource, signBody } from '../../src/response/sources.js';
import type { FastifyInstance } from 'fastify';
import { describeBackends } from '../support/backends.js';
import { useServer } from '../support/server.js';
import { captureLogs, seedAccount, testCtx } from '../support/fixtures.js';

describeBackends('source secrets stay out of the logs', (backend) => {
  let core: Core;
  let server: FastifyInstance;
  const logs = captureLogs();
  const suite = useServer(backend, { logger: logs.logger });

  beforeAll(() => {
    ({ core, server } = suite);
  });

  it('neither a URL token nor an HMAC secret or signature reaches a log line, accepted or refused', async () => {
    const { accountId } = await seedAccount(core, 1);
    const splunk = await createSource(core.response, testCtx, accountId, {
      name: 'splunk',
      format: 'splunk',
      auth: 'url_token',
    });
    const azure = await createSource(core.response, testCtx, accountId, {
      name: 'azure',
      format: 'azure',
      auth: 'hmac',
    });
    const body = JSON.stringify({ sid: 'scheduler__x', search_name: 'Brute force', result: { user: 'm0' } });
    const url = `/v1/accounts/${accountId}/sources/${splunk.source.id}/signals`;
    const headers = { 'content-type': 'application/json' };
    expect(
      (await server.inject({ method: 'POST', url: `${url}?token=${splunk.secret}`, payload: body, headers }))
        .statusCode,
    ).toBe(200);
    expect(
      (await server.inject({ method: 'POST', url: `${url}?token=${splunk.secret}x`, payload: body, headers }))
        .statusCode,
    ).toBe(401);
    const ts = String(Math.floor(Date.now() / 1000));
    const signature = signBody(azure.secret!, ts, '{}');
    await server.inject({
      method: 'POST',
      url: `/v1/accounts/${accountId}/sources/${azure.source.id}/signals`,
      payload: '{}',
      headers: { ...headers, 'x-cordon-timestamp': ts, 'x-cordon-signature': signature },
    });
    const all = logs.lines.join('\n');
    expect(all).toContain(splunk.source.id); // the requests were logged…
    // …without their secrets
    for (const secret of [splunk.secret!, azure.secret!, signature.slice(3)]) expect(all).not.toContain(secret);
  });
});
