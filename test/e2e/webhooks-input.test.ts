import { beforeAll, expect, it } from 'vitest';
import { describeBackends } from '../support/backends.js';
import { auditTrail, mintSessionToken, rpc, seedAccount, type SeededAccount } from '../support/fixtures.js';
import { useServer } from '../support/server.js';

/** What the webhook routes refuse: every bad input is a 400 in google.rpc.Status, never a 5xx. */
describeBackends('webhook input', (backend) => {
  let seed: SeededAccount;
  let ownerToken: string;
  const suite = useServer(backend);
  const api = (method: 'GET' | 'POST', path: string, token = ownerToken, payload?: unknown) =>
    suite.server.inject({
      method,
      url: `/v1/accounts/${seed.accountId}${path}`,
      headers: { authorization: `Bearer ${token}` },
      ...(payload === undefined ? {} : { payload: payload as object }),
    });

  beforeAll(async () => {
    seed = await seedAccount(suite.core, 0);
    ownerToken = await mintSessionToken(suite.core, seed.owner);
  });

  it('refuses bad input with 400 in google.rpc.Status, never 5xx', async () => {
    const refused = async (payload: unknown, message: string) => {
      const res = await api('POST', '/webhooks', ownerToken, payload);
      expect([res.statusCode, res.json()]).toEqual([400, rpc(3, message, 'INVALID_ARGUMENT')]);
    };
    const notHttps = 'url: expected an https:// URL (http:// only on a loopback address)';
    await refused({ url: 'ftp://example.com/x', events: ['plan.executed'] }, notHttps);
    await refused({ url: 'http://example.com/x', events: ['plan.executed'] }, notHttps);
    await refused({ url: 'not a url', events: ['plan.executed'] }, 'url: expected an absolute https:// URL');
    await refused(
      { url: 'https://user:pw@example.com/x', events: ['plan.executed'] },
      'url: credentials do not belong in the URL; verify deliveries with the signing secret instead',
    );
    for (const payload of [
      { url: 'https://example.com/x', events: [] },
      { url: 'https://example.com/x', events: ['plan.nope'] },
      { url: 'https://example.com/x', events: ['plan.executed'], format: 'teams' },
      { url: 'https://example.com/x', events: ['plan.executed'], secret: 'whsec_mine' },
      { url: 'https://example.com/x' },
    ]) {
      const res = await api('POST', '/webhooks', ownerToken, payload);
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json()).toMatchObject({ code: 3, details: [{ reason: 'INVALID_ARGUMENT' }] });
    }
    const broken = await suite.server.inject({
      method: 'POST',
      url: `/v1/accounts/${seed.accountId}/webhooks`,
      headers: { authorization: `Bearer ${ownerToken}`, 'content-type': 'application/json' },
      payload: '{"url": ',
    });
    expect(broken.statusCode).toBe(400);
    const unknown = await api('GET', '/webhooks/AAAAAAAAAAAAAAAAAAAAAAAAAA');
    expect([unknown.statusCode, unknown.json()]).toEqual([404, rpc(5, 'webhook not found', 'NOT_FOUND')]);
    expect((await api('GET', '/webhooks/not-an-id')).statusCode).toBe(400);
    expect((await api('GET', '/webhooks')).json()).toEqual({ webhooks: [] });
    // Each creation refused once the caller was known (the URL checks) is on the record, with nothing of the
    // body; schema validation runs before the guard, so those refusals have no caller to record.
    const refusals = (await auditTrail(suite.core, seed.accountId)).filter((e) => e.action === 'webhook.create');
    expect(refusals).toHaveLength(4);
    for (const entry of refusals)
      expect(entry).toMatchObject({
        outcome: 'refused',
        actor_id: seed.owner.id,
        target_type: 'account',
        details: { code: 'INVALID_ARGUMENT' },
      });
  });
});
