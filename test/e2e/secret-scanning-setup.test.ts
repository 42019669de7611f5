/**
 * Leak reports, continued (README, Leak reports): the key set fetched from a URL, the endpoint when no key set
 * is configured, the secrets made before the format, and requests no code host would send, none of which
 * gets a 5xx.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { disableApp, createApp } from '../../src/oauth/apps.js';
import { hashClientSecret } from '../../src/oauth/client-secret.js';
import { issueEventsToken } from '../../src/oauth/events-tokens.js';
import { findLeakedSecretsByHash } from '../../src/response/leaks/find-leaked.js';
import { createSource } from '../../src/response/sources.js';
import { describeBackends } from '../support/backends.js';
import { appAccessToken, mintSessionToken, rpc, seedAccount, testCtx } from '../support/fixtures.js';
import { keySetDocument, makeCodeHostKey, match, postReport, sha256Hex, signReport } from '../support/leak-reports.js';
import { useServer } from '../support/server.js';
import { applyPlaybooks } from '../../src/response/playbooks.js';

const hostKey = makeCodeHostKey('url-key-1');
const legacy = (prefix: string) => `${prefix}${randomBytes(32).toString('base64url')}`;

describeBackends('leak reports: setup', (backend) => {
  let keyServer: Server;
  let fetches = 0;
  const env: Record<string, string> = {};
  // Registered before useServer's: the key set is served, and its URL configured, before the core starts.
  beforeAll(async () => {
    keyServer = createServer((_request, response) => {
      fetches++;
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
      response.end(keySetDocument([hostKey]));
    });
    await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve));
    env.CORDON_SECRET_SCANNING_KEYS = `http://127.0.0.1:${(keyServer.address() as { port: number }).port}/keys`;
  });
  afterAll(() => new Promise<void>((resolve) => keyServer.close(() => resolve())));
  const suite = useServer(backend, { env });
  const off = useServer(backend);

  const labels = async (tokens: string[]) => {
    const res = await postReport(
      suite.server,
      tokens.map((token) => match(token)),
      { key: hostKey },
    );
    expect(res.statusCode, res.body).toBe(200);
    return res.json<Array<{ label: string }>>().map((l) => l.label);
  };

  it('verifies with a key set fetched from a URL, fetched once for many reports', async () => {
    const owner = (await seedAccount(suite.core, 0)).owner;
    const session = await mintSessionToken(suite.core, owner);
    expect(await labels([session])).toEqual(['true_positive']);
    // The first report ended the session (the built-in leaked-secret playbook).
    expect(await labels([session])).toEqual(['false_positive']);
    expect(fetches).toBe(1);
    const unknown = await postReport(suite.server, [match(session)], { key: hostKey, keyId: 'url-key-9' });
    expect(unknown.statusCode).toBe(401);
    await postReport(suite.server, [match(session)], { key: hostKey, keyId: 'url-key-8' });
    expect(fetches).toBe(2);
  });

  it('answers 404 when no key set is configured', async () => {
    const res = await postReport(off.server, [match('x')], { key: hostKey });
    expect([res.statusCode, res.json()]).toEqual([
      404,
      rpc(
        5,
        'secret_scanning_off: this server takes no leak reports (CORDON_SECRET_SCANNING_KEYS is not set)',
        'SECRET_SCANNING_OFF',
      ),
    ]);
  });

  it('finds the secrets made before the format, and HMAC secrets kept only sealed', async () => {
    const { accountId, owner } = await seedAccount(suite.core, 0);
    const db = suite.core.database.db;
    const session = await mintSessionToken(suite.core, owner, 'cli', legacy('cdns_'));
    const app = await createApp(suite.core.directory, testCtx, accountId, { name: 'old', permissions: ['audit:read'] });
    const oldSecret = randomBytes(32).toString('base64url');
    await sql`UPDATE oauth_apps SET secret_hash = ${hashClientSecret(oldSecret)} WHERE id = ${app.app.id}`.execute(db);
    const hmac = await createSource(suite.core.directory, testCtx, accountId, {
      name: 'before 0029',
      format: 'canonical',
      auth: 'hmac',
    });
    await sql`UPDATE signal_sources SET secret_hash = NULL WHERE id = ${hmac.source.id}`.execute(db);
    expect(await labels([session, oldSecret, hmac.secret!, legacy('cdnh_')])).toEqual([
      'true_positive',
      'true_positive',
      'true_positive',
      'false_positive',
    ]);
  });

  it('finds a live secret by its SHA-256 alone, as a secret.leaked signal names it', async () => {
    const { accountId, owner } = await seedAccount(suite.core, 0);
    const session = await mintSessionToken(suite.core, owner);
    const app = await createApp(suite.core.directory, testCtx, accountId, { name: 'h', permissions: ['audit:read'] });
    const hashes = [sha256Hex(session), sha256Hex(app.clientSecret!).toUpperCase(), sha256Hex('nothing'), 'zz'];
    const found = await findLeakedSecretsByHash(suite.core.database.db, hashes);
    expect([...found.values()].map((leak) => [leak.kind, leak.owner.type, leak.owner.id])).toEqual([
      ['cs', 'app', app.app.id],
      ['sess', 'user', owner.id],
    ]);
  });

  it('takes a secret.leaked signal, stored with the hash and where it was found', async () => {
    const { accountId } = await seedAccount(suite.core, 0);
    const app = await createApp(suite.core.directory, testCtx, accountId, {
      name: 's',
      permissions: ['signals:write'],
    });
    const token = await appAccessToken(suite.server, app.app.client_id, app.clientSecret!, '/oauth/token');
    const res = await suite.server.inject({
      method: 'POST',
      url: `/v1/accounts/${accountId}/signals`,
      headers: { authorization: `Bearer ${token}` },
      payload: {
        external_id: 'scan-7',
        type: 'secret.leaked',
        subject: {},
        secret: { sha256: sha256Hex(app.clientSecret!), url: 'https://git.example/r/.env' },
        observed_time: '2026-01-01T00:00:00Z',
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ signal: { type: 'secret.leaked', observed_time: '2026-01-01T00:00:00.000Z' } });
    const row = await sql<{ attributes: unknown }>`SELECT attributes FROM signals WHERE external_id = 'scan-7'`.execute(
      suite.core.database.db,
    );
    expect(row.rows[0]!.attributes).toEqual({
      'secret.sha256': sha256Hex(app.clientSecret!),
      'secret.url': 'https://git.example/r/.env',
    });
  });

  it("labels a disabled app's events token false_positive", async () => {
    const { accountId } = await seedAccount(suite.core, 0);
    // Leaks only recorded here (not contained), so that the app's disabling is what makes them false.
    await applyPlaybooks(suite.core.directory, testCtx, accountId, [
      { name: 'leaked-secret', match: { types: ['secret.leaked'] }, action: 'notify' },
    ]);
    const reader = await createApp(suite.core.directory, testCtx, accountId, {
      name: 'f',
      permissions: ['audit:read'],
    });
    const deps = { ...suite.core.directory, keys: suite.core.keys, issuer: suite.core.issuer };
    const events = await issueEventsToken(deps, testCtx, accountId, reader.app.id, {});
    expect(await labels([events.token, reader.clientSecret!])).toEqual(['true_positive', 'true_positive']);
    await disableApp(suite.core.directory, testCtx, accountId, reader.app.id);
    expect(await labels([events.token, reader.clientSecret!])).toEqual(['false_positive', 'false_positive']);
  });

  it('answers requests no code host sends with a 4xx, and one of two identical reports at once', async () => {
    const body = () => JSON.stringify([match(legacy('cdns_'))]);
    const statuses: number[] = [];
    for (const [type, payload] of [
      ['text/plain', body()],
      [undefined, body()],
      ['application/json', ''],
      ['application/x-www-form-urlencoded', 'a=b'],
      ['application/json', '['.repeat(100_000)],
      ['application/json', '"\\u0000"'],
      ['application/json', JSON.stringify([{ ...match('x'), url: 'a\u0000b' }])],
      ['application/json', `[${' '.repeat(9 * 1024 * 1024)}]`],
    ] as const) {
      const res = await suite.server.inject({
        method: 'POST',
        url: '/v1/secret-scanning/reports',
        headers: {
          'github-public-key-identifier': hostKey.id,
          'github-public-key-signature': signReport(hostKey, payload),
          ...(type ? { 'content-type': type } : {}),
        },
        payload,
      });
      statuses.push(res.statusCode);
    }
    expect(statuses).toEqual([200, 200, 400, 400, 400, 400, 400, 413]);
    const body1 = body();
    const twice = await Promise.all([0, 1].map(() => postReport(suite.server, body1, { key: hostKey })));
    expect(twice.map((res) => res.statusCode).sort()).toEqual([200, 200]);
    const resent = JSON.stringify([match(legacy('cdns_'))]);
    const same = signReport(hostKey, resent);
    const raced = await Promise.all(
      [0, 1].map(() => postReport(suite.server, resent, { key: hostKey, signature: same })),
    );
    expect(raced.map((res) => res.statusCode).sort()).toEqual([200, 409]);
  });
});
