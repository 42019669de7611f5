import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createApp } from '../../src/oauth/apps.js';
import { SYSTEM_LOG } from '../../src/audit/entry.js';
import { listAuditEntries } from '../../src/store/audit.js';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../support/backends.js';
import { seedAccount, testCtx } from '../support/fixtures.js';

// Two nodes on one PostgreSQL, started as `cordon serve` starts one (each its own pool, key ring, token
// cache and port), configured alike as a deployment would be (PostgreSQL only: PGlite is one process by
// design).
describe.skipIf(!BACKENDS.includes('postgres'))('tokens across two nodes [postgres]', () => {
  let database: TestDatabase;
  const nodes: RunningServer[] = [];
  let accountId: string;
  let app: { clientId: string; secret: string };

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    const { config } = loadConfig({
      ...database.env,
      CORDON_LISTEN: '127.0.0.1:0',
      CORDON_METRICS_LISTEN: '127.0.0.1:0',
      CORDON_DEMO: 'false',
      CORDON_SEQUENCER_INTERVAL_MS: '20',
    });
    for (let i = 0; i < 2; i++) nodes.push(await startServer(config, { logger: createLogger('silent') }));
    expect(nodes[0]!.url).not.toBe(nodes[1]!.url);
    accountId = (await seedAccount(nodes[0]!.core, 1)).accountId;
    const made = await createApp(nodes[0]!.core.directory, testCtx, accountId, {
      name: 'soar',
      permissions: ['users:list'],
    });
    app = { clientId: made.app.client_id, secret: made.clientSecret! };
  });
  afterAll(async () => {
    for (const node of nodes) await node.close();
    await database.drop();
  });

  const tokenFrom = async (node: number) => {
    const res = await fetch(`${nodes[node]!.url}/oauth/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${app.clientId}:${app.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { access_token: string }).access_token;
  };
  const listOn = async (node: number, token: string) => {
    const res = await fetch(`${nodes[node]!.url}/v1/accounts/${accountId}/users?max_page_size=1`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: res.status, body: (await res.json()) as { message?: string } };
  };

  it('a token issued by one node works on the other', async () => {
    const [fromA, fromB] = [await tokenFrom(0), await tokenFrom(1)];
    expect((await listOn(1, fromA)).status).toBe(200);
    expect((await listOn(0, fromB)).status).toBe(200);
    expect((await listOn(0, fromA)).status).toBe(200);
  });

  it('a key revoked on one node fails its tokens on the other from the next request, cached or not', async () => {
    const cached = await tokenFrom(0);
    expect((await listOn(1, cached)).status).toBe(200); // node B has verified and cached it
    const uncached = await tokenFrom(0);
    const { kid } = await nodes[0]!.core.keys.signingKey();
    const { replaced_by } = await nodes[0]!.core.keys.revoke(nodes[0]!.core.audit, testCtx, kid);

    for (const token of [cached, uncached]) {
      for (const node of [1, 0]) {
        const res = await listOn(node, token);
        expect([res.status, res.body.message]).toEqual([
          401,
          expect.stringMatching(
            /^the (signing key of the access token is revoked|access token is invalid or expired)$/,
          ),
        ]);
      }
    }
    // Node B held the revoked key (as its signer): the refused token made it reload, so it signs with the new one.
    const fresh = await tokenFrom(1);
    expect(JSON.parse(Buffer.from(fresh.split('.')[0]!, 'base64url').toString()).kid).toBe(replaced_by);
    expect((await listOn(0, fresh)).status).toBe(200);
    expect(await fetch(`${nodes[1]!.url}/.well-known/jwks.json`).then((r) => r.json())).toEqual({
      keys: [expect.objectContaining({ kid: replaced_by })],
    });

    await nodes[0]!.core.audit.sequencer.drain();
    const entries = await listAuditEntries(nodes[0]!.core.database.db, { accountId: SYSTEM_LOG });
    expect(entries.filter((e) => e.action === 'key.revoke').map((e) => [e.target_id, e.details])).toEqual([
      [kid, { was: 'active', replaced_by }],
    ]);
  });
});
