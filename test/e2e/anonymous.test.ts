/**
 * Callers that did not authenticate (issue 14 §3): their refusals leave every account's log as it was,
 * reach the system log only as per-address, per-window tallies, and are limited per address (429).
 * Refusals of callers that did authenticate stay in the account's log, with a path segment that is no
 * id kept only as its digest.
 *
 * The flood lasts CORDON_TEST_FLOOD_SECONDS (3 by default; the acceptance run is 30).
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { beforeAll, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { createAccount } from '../../src/directory/accounts.js';
import { buildServer } from '../../src/http/server.js';
import { createApp } from '../../src/oauth/apps.js';
import { SYSTEM_LOG } from '../../src/audit/entry.js';
import { describeBackends } from '../support/backends.js';
import { useServer } from '../support/server.js';
import { appAccessToken, auditTrail, seedAccount, testCtx, type SeededAccount } from '../support/fixtures.js';

const FLOOD_SECONDS = Number(process.env.CORDON_TEST_FLOOD_SECONDS ?? '3');
const ATTACKER_TEXT = 'ATTACKER-TEXT owner approved wire transfer';
const ATTACKERS = ['203.0.113.1', '203.0.113.2', '203.0.113.3', '2001:db8:bad::1'];

describeBackends('callers that did not authenticate', (backend) => {
  let core: Core;
  let server: FastifyInstance;
  let seed: SeededAccount;
  let otherAccountId: string;
  let token: string;

  // Behind a proxy on loopback, so that the test can speak for several addresses.
  const suite = useServer(backend, {
    env: { CORDON_TRUSTED_PROXIES: '127.0.0.1', CORDON_REFUSAL_WINDOW_SECONDS: '1' },
  });

  beforeAll(async () => {
    ({ core, server } = suite);
    seed = await seedAccount(core, 2);
    otherAccountId = (
      await createAccount(core.directory, testCtx, {
        name: 'Other Co',
        owner: { email: 'owner@other.example', display_name: 'O' },
      })
    ).account.id;
    const { app, clientSecret } = await createApp(core.directory, testCtx, seed.accountId, {
      name: 'reader',
      permissions: ['users:list', 'users:read'],
    });
    token = await appAccessToken(server, app.client_id, clientSecret!);
  });

  const entryIds = async (log: string) => (await auditTrail(core, log)).map((e) => String(e.entry_id));
  /** The system log's entries after the first `from`, once every tally is written. */
  const systemEntriesSince = async (from: number) => {
    await core.unauthenticatedRefusals.flush(Infinity);
    return (await auditTrail(core, SYSTEM_LOG)).slice(from);
  };

  it(
    `a ${FLOOD_SECONDS} s flood leaves every account's log unchanged, and the system log gets tallies only`,
    async () => {
      const member = seed.members[0]!.id;
      const requests = [
        { method: 'GET', url: `/v1/accounts/${seed.accountId}/users` },
        {
          method: 'POST',
          url: `/v1/accounts/${seed.accountId}/users/${member}:suspend`,
          headers: { authorization: 'Bearer cdns_not-a-session' },
        },
        {
          method: 'GET',
          url: `/v1beta1/accounts/${otherAccountId}/users/${encodeURIComponent(ATTACKER_TEXT)}`,
          headers: { authorization: 'Bearer e30.e30.not-a-jwt' },
        },
        {
          method: 'POST',
          url: `/v1/accounts/${seed.accountId}/users`,
          payload: { email: ATTACKER_TEXT, display_name: ATTACKER_TEXT },
        },
        { method: 'GET', url: `/v1/accounts/${seed.accountId}/audit/entries` },
        { method: 'POST', url: `/v1/accounts/${seed.accountId}/sources/${member}/signals`, payload: ATTACKER_TEXT },
        { method: 'GET', url: `/v1/${encodeURIComponent(ATTACKER_TEXT)}` },
      ] as const;
      const logs = {
        [seed.accountId]: await entryIds(seed.accountId),
        [otherAccountId]: await entryIds(otherAccountId),
      };
      const systemBefore = (await auditTrail(core, SYSTEM_LOG)).length;

      const statuses = new Map<number, number>();
      let sent = 0;
      const deadline = Date.now() + FLOOD_SECONDS * 1000;
      const worker = async () => {
        while (Date.now() < deadline) {
          const i = sent++;
          const request: { method: 'GET' | 'POST'; url: string; headers?: Record<string, string>; payload?: unknown } =
            requests[i % requests.length]!;
          const res = await server.inject({
            method: request.method,
            url: request.url,
            ...(request.payload === undefined ? {} : { payload: request.payload as object | string }),
            headers: {
              ...request.headers,
              'user-agent': ATTACKER_TEXT,
              'x-forwarded-for': ATTACKERS[i % ATTACKERS.length]!,
            },
          });
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));

      const tallies = await systemEntriesSince(systemBefore);
      const counted = tallies.reduce((sum, e) => sum + (e.details as { count: number }).count, 0);
      const figures = {
        seconds: FLOOD_SECONDS,
        sent,
        statuses: Object.fromEntries(statuses),
        systemEntries: tallies.length,
        counted,
        accountLogs: Object.fromEntries(Object.entries(logs).map(([id, before]) => [id, before.length])),
      };
      console.log(`anonymous flood [${backend}]: ${JSON.stringify(figures)}`);

      // Nothing below 400, nothing 5xx: every request was refused.
      expect([...statuses.keys()].every((s) => s >= 400 && s < 500)).toBe(true);
      expect(await entryIds(seed.accountId)).toEqual(logs[seed.accountId]);
      expect(await entryIds(otherAccountId)).toEqual(logs[otherAccountId]);
      // Tallies only, one per address and window, that count every request and name no path, agent or id.
      expect(new Set(tallies.map((e) => e.action))).toEqual(new Set(['http.unauthenticated_refusals']));
      expect(counted).toBe(sent);
      const keys = tallies.map((e) => `${e.target_id} ${(e.details as { window_start: string }).window_start}`);
      expect(new Set(keys).size).toBe(keys.length);
      expect(new Set(tallies.map((e) => e.target_id))).toEqual(new Set(ATTACKERS));
      expect(tallies.length).toBeLessThanOrEqual(ATTACKERS.length * (FLOOD_SECONDS + 2));
      const text = JSON.stringify(tallies);
      for (const secret of ['ATTACKER', seed.accountId, otherAccountId, member]) expect(text).not.toContain(secret);
      expect(tallies[0]).toMatchObject({ actor_type: 'anonymous', outcome: 'refused', authz: { method: 'none' } });
      const routes = new Set(
        tallies.flatMap((e) => (e.details as { routes: Array<{ route: string }> }).routes.map((r) => r.route)),
      );
      expect([...routes].filter((r) => !/^(GET|POST) (\/[\w/:.()^[\]+-]*|unmatched)$/.test(r))).toEqual([]);
    },
    60_000 + FLOOD_SECONDS * 5_000,
  );

  it('answers 429 past the per-address limit, to that address only, and still admits it with credentials', async () => {
    const limited = await buildServer({
      ...core,
      config: { ...core.config, unauthenticated: { ...core.config.unauthenticated, ratePerAddress: 5 } },
    });
    const from = (address: string, headers: Record<string, string> = {}) =>
      limited.inject({
        url: `/v1/accounts/${seed.accountId}/users`,
        headers: { 'x-forwarded-for': address, ...headers },
      });
    try {
      for (let i = 0; i < 5; i++) expect((await from('198.51.100.7')).statusCode).toBe(401);
      const refused = await from('198.51.100.7');
      expect([refused.statusCode, refused.json()]).toEqual([
        429,
        {
          code: 8,
          message: 'too many requests; retry later',
          details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'RATE_LIMITED', domain: 'cordon' }],
        },
      ]);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect((await from('198.51.100.8')).statusCode).toBe(401);
      expect((await from('198.51.100.7', { authorization: `Bearer ${token}` })).statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it(
    'keeps refusals of callers that authenticated in the ' + 'account log, a path segment that is no id as its digest',
    async () => {
      const before = (await auditTrail(core, seed.accountId)).length;
      const res = await server.inject({
        url: `/v1/accounts/${seed.accountId}/users/${encodeURIComponent(ATTACKER_TEXT)}`,
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.statusCode).toBe(400);
      const added = (await auditTrail(core, seed.accountId)).slice(before);
      expect(added).toEqual([
        expect.objectContaining({
          action: 'user.read',
          outcome: 'refused',
          actor_type: 'app',
          target_type: 'user',
          target_id: `sha256:${createHash('sha256').update(ATTACKER_TEXT).digest('hex')}`,
          details: { code: 'INVALID_ARGUMENT', unvalidated_target: true },
        }),
      ]);
      expect(JSON.stringify(added)).not.toContain('ATTACKER');
    },
  );
});
