import type { FastifyInstance } from 'fastify';
import { SignJWT } from 'jose';
import { Type } from 'typebox';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Core } from '../../src/app.js';
import { createAccount } from '../../src/directory/accounts.js';
import { buildServer } from '../../src/http/server.js';
import { createApp, disableApp } from '../../src/oauth/apps.js';
import { requirePermission } from '../../src/oauth/guard.js';
import { listAuditEntries } from '../../src/store/audit.js';
import { createTestDatabase, describeBackends, openTestCore, type TestDatabase } from '../support/backends.js';
import { seedAccount, testCtx } from '../support/fixtures.js';

const ISSUER = 'http://127.0.0.1:8080';

describeBackends('resource guard and revocation', (backend) => {
  let database: TestDatabase;
  let core: Core;
  let server: FastifyInstance;
  let accountId: string;
  let otherAccountId: string;
  const creds: Record<string, { clientId: string; secret: string; id: string; accountId: string }> = {};

  beforeAll(async () => {
    database = await createTestDatabase(backend);
    core = await openTestCore(database, { CORDON_ISSUER: ISSUER });
    accountId = (await seedAccount(core, 1)).accountId;
    otherAccountId = (await createAccount(core.directory, testCtx, { name: 'Other', owner: { email: 'o@other.example', display_name: 'O' } })).account.id;
    for (const [name, account, permissions] of [
      ['lister', accountId, ['users:list']],
      ['reader', accountId, ['users:read']],
      ['doomed', accountId, ['users:list']],
      ['outsider', otherAccountId, ['users:list']],
    ] as const) {
      const { app, clientSecret } = await createApp(core.directory, testCtx, account, { name, permissions: [...permissions] });
      creds[name] = { clientId: app.client_id, secret: clientSecret!, id: app.id, accountId: account };
    }
    server = await buildServer(core, {
      register: (r) => {
        r.get(
          '/v1/accounts/:account/probe',
          { preHandler: requirePermission(core, 'users:list'), schema: { response: { 200: Type.Object({ client_id: Type.String() }) } } },
          async (request) => ({ client_id: request.principal!.claims.client_id }),
        );
      },
    });
  });
  afterAll(async () => {
    await server.close();
    await core.close();
    await database.drop();
  });

  const basic = (name: string) => `Basic ${Buffer.from(`${creds[name]!.clientId}:${creds[name]!.secret}`).toString('base64')}`;
  const tokenFor = async (name: string) =>
    (
      await server.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: { authorization: basic(name), 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'grant_type=client_credentials',
      })
    ).json().access_token as string;
  const probe = (token: string | undefined, account = accountId) =>
    server.inject({ url: `/v1/accounts/${account}/probe`, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  const revoke = (name: string, token: string) =>
    server.inject({ method: 'POST', url: '/v1beta1/users/oauth2/revoke', headers: { authorization: basic(name), 'content-type': 'application/x-www-form-urlencoded' }, payload: `token=${encodeURIComponent(token)}` });

  /** A token signed with the real key, with claims and header as the test wants them. */
  const mint = async (claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) => {
    const { kid, key } = await core.keys.signingKey();
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ client_id: creds.lister!.clientId, account_id: accountId, scope: 'users:list', jti: `j${Math.random()}`, iss: ISSUER, aud: ISSUER, sub: creds.lister!.clientId, iat: now, exp: now + 900, ...claims })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid, ...header })
      .sign(key);
  };
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

  it('admits a valid token for its account and permission', async () => {
    const res = await probe(await tokenFor('lister'));
    expect([res.statusCode, res.json()]).toEqual([200, { client_id: creds.lister!.clientId }]);
    expect((await probe(await mint())).statusCode).toBe(200);
  });

  it('refuses the attack battery with 401 invalid_token, and without detail', async () => {
    const valid = await mint();
    const [h, p, s] = valid.split('.');
    const { kid } = await core.keys.signingKey();
    const publicJwk = (await core.keys.jwks()).keys.find((k) => k.kid === kid)!;
    const hs256 = await new SignJWT({ client_id: creds.lister!.clientId, account_id: accountId, scope: 'users:list', jti: 'x' })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid })
      .setIssuer(ISSUER)
      .setAudience(ISSUER)
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(JSON.stringify(publicJwk)));
    const now = Math.floor(Date.now() / 1000);
    const attacks: Record<string, string> = {
      'alg none': `${b64({ alg: 'none', typ: 'at+jwt', kid })}.${p}.`,
      'HS256 with the public key': hs256,
      'wrong typ': await mint({}, { typ: 'JWT' }),
      expired: await mint({ iat: now - 2000, exp: now - 60 }),
      'nbf in the future': await mint({ nbf: now + 600 }),
      'wrong iss': await mint({ iss: 'https://evil.example' }),
      'wrong aud': await mint({ aud: 'https://api.elsewhere.example' }),
      'tampered payload': `${h}.${b64({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), scope: 'users:list users:suspend' })}.${s}`,
      'unknown kid': await mint({}, { kid: 'not-a-key' }),
      'missing claims': await mint({ account_id: undefined }),
      garbage: 'abc.def.ghi',
    };
    for (const [name, token] of Object.entries(attacks)) {
      const res = await probe(token);
      expect([name, res.statusCode, res.json()]).toEqual([
        name,
        401,
        { code: 16, message: 'the access token is invalid or expired', details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'UNAUTHENTICATED', domain: 'cordon' }] },
      ]);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="cordon", error="invalid_token"');
    }
    const none = await probe(undefined);
    expect([none.statusCode, none.headers['www-authenticate']]).toEqual([401, 'Bearer realm="cordon"']);
  });

  it('refuses another account’s token (403) and a token without the permission (403 insufficient_scope)', async () => {
    const other = await probe(await tokenFor('outsider'));
    expect([other.statusCode, other.json().message]).toEqual([403, 'the access token belongs to another account']);
    const lacking = await probe(await tokenFor('reader'));
    expect([lacking.statusCode, lacking.json().message]).toEqual([403, 'the access token lacks the users:list permission']);
    expect(lacking.headers['www-authenticate']).toBe('Bearer realm="cordon", error="insufficient_scope", scope="users:list"');
    // Using its own account in the path does not help the outsider on ours, and ours works on neither's.
    expect((await probe(await tokenFor('outsider'), otherAccountId)).statusCode).toBe(200);
    expect((await probe(await tokenFor('lister'), otherAccountId)).statusCode).toBe(403);
  });

  it('revocation holds from the next request; unknown and foreign tokens get 200 and change nothing', async () => {
    const token = await tokenFor('lister');
    expect((await probe(token)).statusCode).toBe(200);
    const res = await revoke('lister', token);
    expect([res.statusCode, res.body]).toEqual([200, '']);
    expect((await probe(token)).statusCode).toBe(401);
    expect((await revoke('lister', token)).statusCode).toBe(200);

    const othersToken = await tokenFor('reader');
    expect((await revoke('lister', othersToken)).statusCode).toBe(200);
    expect((await revoke('lister', 'not-a-token')).statusCode).toBe(200);
    const badCreds = await server.inject({ method: 'POST', url: '/oauth/revoke', headers: { authorization: `Basic ${Buffer.from(`${creds.lister!.clientId}:wrong`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' }, payload: `token=${token}` });
    expect([badCreds.statusCode, badCreds.json()]).toEqual([401, { error: 'invalid_client', error_description: 'client authentication failed' }]);

    await core.audit.sequencer.drain();
    const revocations = (await listAuditEntries(core.database.db, { accountId })).filter((e) => e.action === 'token.revoke').map((e) => e.outcome);
    expect(revocations).toEqual(['changed', 'unchanged', 'refused']);
    const count = await core.database.db.selectFrom('revoked_tokens').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(1);
  });

  it('refuses the tokens of a disabled app on the next request', async () => {
    const token = await tokenFor('doomed');
    expect((await probe(token)).statusCode).toBe(200);
    await disableApp(core.directory, testCtx, accountId, creds.doomed!.id);
    const res = await probe(token);
    expect([res.statusCode, res.json().message]).toEqual([401, 'the access token is revoked or its app disabled']);
  });

  it('introspects tokens of the caller’s own account only (RFC 7662)', async () => {
    const introspect = (name: string, token: string) =>
      server.inject({ method: 'POST', url: '/oauth/introspect', headers: { authorization: basic(name), 'content-type': 'application/x-www-form-urlencoded' }, payload: `token=${encodeURIComponent(token)}` });
    const token = await tokenFor('lister');
    const res = await introspect('reader', token);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toMatchObject({ active: true, token_type: 'Bearer', client_id: creds.lister!.clientId, account_id: accountId, scope: 'users:list', iss: ISSUER, aud: ISSUER });
    expect((await introspect('outsider', token)).json()).toEqual({ active: false });
    expect((await introspect('reader', 'garbage')).json()).toEqual({ active: false });
    await revoke('lister', token);
    expect((await introspect('reader', token)).json()).toEqual({ active: false });
  });
});
