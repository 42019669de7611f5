import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type CryptoKey,
} from 'jose';
import * as oauth from 'oauth4webapi';
import { beforeAll, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { buildServer } from '../../src/http/server.js';
import { createApp, disableApp } from '../../src/oauth/apps.js';
import { listAuditEntries } from '../../src/store/audit.js';
import { describeBackends } from '../support/backends.js';
import { useServer } from '../support/server.js';
import { seedAccount, testCtx } from '../support/fixtures.js';

describeBackends('OAuth token endpoint', (backend) => {
  let core: Core;
  let server: FastifyInstance;
  let url: string;
  let accountId: string;
  const apps: Record<string, { id: string; clientId: string; secret: string }> = {};
  let pk: { id: string; clientId: string; key: CryptoKey; otherKey: CryptoKey };

  const suite = useServer(backend, { listen: true });

  beforeAll(async () => {
    ({ core, server } = suite);
    accountId = (await seedAccount(core, 1)).accountId;
    const make = async (name: string, permissions: string[], auth_method?: 'client_secret_post') => {
      const { app, clientSecret } = await createApp(core.directory, testCtx, accountId, {
        name,
        permissions,
        auth_method,
      });
      apps[name] = { id: app.id, clientId: app.client_id, secret: clientSecret! };
    };
    await make('soar', ['users:list', 'users:read', 'users:suspend']);
    await make('siem', ['audit:read'], 'client_secret_post');
    await make('gone', ['users:list']);
    await disableApp(core.directory, testCtx, accountId, apps.gone!.id);
    const [pair, other] = [await generateKeyPair('ES256'), await generateKeyPair('ES256')];
    const made = await createApp(core.directory, testCtx, accountId, {
      name: 'signer',
      permissions: ['users:read'],
      auth_method: 'private_key_jwt',
      jwks: { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1' }] },
    });
    pk = { id: made.app.id, clientId: made.app.client_id, key: pair.privateKey, otherKey: other.privateKey };
    url = suite.url;
    core.issuer = url;
  });

  const basic = (clientId: string, secret: string) =>
    `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  const post = (path: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
    server.inject({
      method: 'POST',
      url: path,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      payload: new URLSearchParams(form).toString(),
    });

  it(
    'issues RFC 9068 tokens to an independent client ' +
      '(oauth4webapi) with client_secret_basic and client_secret_post',
    async () => {
      const issuer = new URL(url);
      const as = await oauth.processDiscoveryResponse(
        issuer,
        await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true }),
      );
      expect(as).toMatchObject({
        issuer: url,
        token_endpoint: `${url}/oauth/token`,
        grant_types_supported: ['client_credentials'],
      });

      for (const [name, auth] of [
        ['soar', oauth.ClientSecretBasic(apps.soar!.secret)],
        ['siem', oauth.ClientSecretPost(apps.siem!.secret)],
      ] as const) {
        const client = { client_id: apps[name]!.clientId };
        const response = await oauth.clientCredentialsGrantRequest(as, client, auth, new URLSearchParams(), {
          [oauth.allowInsecureRequests]: true,
        });
        expect(response.headers.get('cache-control')).toBe('no-store');
        const result = await oauth.processClientCredentialsResponse(as, client, response);
        expect(result).toMatchObject({ token_type: 'bearer', expires_in: 900 });

        const header = decodeProtectedHeader(result.access_token);
        expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt', kid: expect.any(String) });
        const { payload } = await jwtVerify(result.access_token, createRemoteJWKSet(new URL(as.jwks_uri!)), {
          issuer: url,
          audience: url,
          typ: 'at+jwt',
        });
        expect(payload).toMatchObject({
          sub: client.client_id,
          client_id: client.client_id,
          account_id: accountId,
          jti: expect.any(String),
        });
        expect(payload.exp! - payload.iat!).toBe(900);
        expect(payload.scope).toBe(name === 'soar' ? 'users:list users:read users:suspend' : 'audit:read');
      }
    },
  );

  it('speaks the 1Password wire contract on both paths: Basic auth, scope=openid gives every permission', async () => {
    for (const path of ['/v1beta1/users/oauth2/token', '/v1/oauth/token']) {
      const res = await post(
        path,
        { grant_type: 'client_credentials', scope: 'openid' },
        { authorization: basic(apps.soar!.clientId, apps.soar!.secret) },
      );
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const body = res.json();
      expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'scope', 'token_type']);
      expect(body).toMatchObject({
        token_type: 'Bearer',
        expires_in: 900,
        scope: 'users:list users:read users:suspend',
      });
    }
    const subset = await post(
      '/oauth/token',
      { grant_type: 'client_credentials', scope: 'users:read' },
      { authorization: basic(apps.soar!.clientId, apps.soar!.secret) },
    );
    expect(subset.json().scope).toBe('users:read');
  });

  it(
    'refuses with RFC 6749 bodies: escalation, bad or ' + 'foreign secrets, wrong method, disabled app, bad requests',
    async () => {
      const soar = basic(apps.soar!.clientId, apps.soar!.secret);
      const cases: Array<
        [string, () => ReturnType<typeof post>, number, { error: string; error_description: string }]
      > = [
        [
          'scope escalation',
          () =>
            post(
              '/oauth/token',
              { grant_type: 'client_credentials', scope: 'users:read users:reactivate' },
              { authorization: soar },
            ),
          400,
          { error: 'invalid_scope', error_description: 'not granted to this app: users:reactivate' },
        ],
        [
          'wrong secret',
          () =>
            post(
              '/oauth/token',
              { grant_type: 'client_credentials' },
              { authorization: basic(apps.soar!.clientId, 'x'.repeat(43)) },
            ),
          401,
          { error: 'invalid_client', error_description: 'client authentication failed' },
        ],
        [
          'another app’s secret',
          () =>
            post(
              '/oauth/token',
              { grant_type: 'client_credentials' },
              { authorization: basic(apps.soar!.clientId, apps.siem!.secret) },
            ),
          401,
          { error: 'invalid_client', error_description: 'client authentication failed' },
        ],
        [
          'unknown client',
          () => post('/oauth/token', { grant_type: 'client_credentials' }, { authorization: basic('nobody', 'x') }),
          401,
          { error: 'invalid_client', error_description: 'client authentication failed' },
        ],
        [
          'basic app using post',
          () =>
            post('/oauth/token', {
              grant_type: 'client_credentials',
              client_id: apps.soar!.clientId,
              client_secret: apps.soar!.secret,
            }),
          401,
          { error: 'invalid_client', error_description: 'client authentication failed' },
        ],
        [
          'disabled app',
          () =>
            post(
              '/oauth/token',
              { grant_type: 'client_credentials' },
              { authorization: basic(apps.gone!.clientId, apps.gone!.secret) },
            ),
          401,
          { error: 'invalid_client', error_description: 'client authentication failed' },
        ],
        [
          'no credentials',
          () => post('/oauth/token', { grant_type: 'client_credentials' }),
          401,
          { error: 'invalid_client', error_description: 'no client authentication' },
        ],
        [
          'two methods',
          () => post('/oauth/token', { grant_type: 'client_credentials', client_secret: 'x' }, { authorization: soar }),
          400,
          { error: 'invalid_request', error_description: 'use one client authentication method, not several' },
        ],
        [
          'other grant',
          () => post('/oauth/token', { grant_type: 'password' }, { authorization: soar }),
          400,
          { error: 'unsupported_grant_type', error_description: 'only grant_type=client_credentials is supported' },
        ],
        [
          'no grant',
          () => post('/oauth/token', {}, { authorization: soar }),
          400,
          { error: 'invalid_request', error_description: 'grant_type is required' },
        ],
        [
          'JSON body',
          () =>
            server.inject({
              method: 'POST',
              url: '/oauth/token',
              headers: { authorization: soar },
              payload: { grant_type: 'client_credentials' },
            }),
          400,
          { error: 'invalid_request', error_description: 'send the parameters as application/x-www-form-urlencoded' },
        ],
      ];
      for (const [name, send, status, body] of cases) {
        const res = await send();
        expect([name, res.statusCode, res.json()]).toEqual([name, status, body]);
        expect(res.headers['cache-control']).toBe('no-store');
        if (status === 401) expect(res.headers['www-authenticate']).toBe('Basic realm="cordon", charset="UTF-8"');
      }
    },
  );

  it('audits every issued token and every refusal of a known app, without secrets or tokens', async () => {
    const res = await post(
      '/oauth/token',
      { grant_type: 'client_credentials' },
      { authorization: basic(apps.soar!.clientId, apps.soar!.secret), 'user-agent': 'sumo-logic-soar/1.4' },
    );
    const token = res.json().access_token as string;
    const jti = (await jwtVerify(token, createRemoteJWKSet(new URL(`${url}/.well-known/jwks.json`)))).payload.jti;
    await core.audit.sequencer.drain();
    const entries = await listAuditEntries(core.database.db, { accountId });
    const issued = entries.find((e) => e.action === 'token.issue' && (e.details as { jti?: string }).jti === jti);
    expect(issued).toMatchObject({
      actor_type: 'app',
      actor_id: apps.soar!.id,
      outcome: 'changed',
      authz: { method: 'client_secret_basic', client_id: apps.soar!.clientId },
      details: {
        scope: ['users:list', 'users:read', 'users:suspend'],
        auth_method: 'client_secret_basic',
        user_agent: 'sumo-logic-soar/1.4',
        source_address: '127.0.0.1',
      },
    });
    const refusals = entries
      .filter((e) => e.action === 'token.issue' && e.outcome === 'refused')
      .map((e) => (e.details as { reason: string }).reason);
    expect(refusals).toEqual(
      expect.arrayContaining(['bad_secret', 'wrong_method:client_secret_post', 'app_disabled', 'invalid_scope']),
    );
    const all = JSON.stringify(entries);
    for (const app of Object.values(apps)) expect(all).not.toContain(app.secret);
    expect(all).not.toContain(token);
  });

  it('never answers 5xx to arbitrary token requests', async () => {
    const field = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom('client_credentials', 'openid', apps.soar!.clientId, apps.soar!.secret, 'users:list'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          fc.constantFrom('grant_type', 'scope', 'client_id', 'client_secret', 'client_assertion', 'x'),
          field,
          { maxKeys: 5 },
        ),
        fc.option(
          fc.oneof(
            fc.string({ maxLength: 60 }).map((s) => `Basic ${s}`),
            fc.string({ maxLength: 60 }).map((s) => `Basic ${Buffer.from(s).toString('base64')}`),
          ),
          { nil: undefined },
        ),
        fc.constantFrom('/oauth/token', '/v1/oauth/token', '/v1beta1/users/oauth2/token'),
        async (form, authorization, path) => {
          const res = await post(path, form, authorization ? { authorization } : {});
          expect(res.statusCode).toBeLessThan(500);
          expect(res.json()).toEqual(
            res.statusCode === 200
              ? expect.objectContaining({ token_type: 'Bearer' })
              : { error: expect.any(String), error_description: expect.any(String) },
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('limits requests per client with 429, an RFC 6749-style body and Retry-After', async () => {
    const app = await buildServer({
      ...core,
      config: { ...core.config, oauthRateLimit: { perClient: 3, perAddress: 0 } },
    });
    const send = () =>
      app.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: {
          authorization: basic(apps.siem!.clientId, 'wrong'),
          'content-type': 'application/x-www-form-urlencoded',
        },
        payload: 'grant_type=client_credentials',
      });
    for (let i = 0; i < 3; i++) expect((await send()).statusCode).toBe(401);
    const res = await send();
    expect([res.statusCode, res.json()]).toEqual([
      429,
      { error: 'slow_down', error_description: 'too many requests; retry later' },
    ]);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    await app.close();
  });

  it(
    'authenticates private_key_jwt clients (RFC 7523) and ' +
      'refuses replayed, misaddressed or foreign-signed assertions',
    async () => {
      const issuer = new URL(url);
      const as = await oauth.processDiscoveryResponse(
        issuer,
        await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true }),
      );
      expect(as.token_endpoint_auth_methods_supported).toContain('private_key_jwt');
      const client = { client_id: pk.clientId };
      const response = await oauth.clientCredentialsGrantRequest(
        as,
        client,
        oauth.PrivateKeyJwt({ key: pk.key, kid: 'k1' }),
        new URLSearchParams(),
        { [oauth.allowInsecureRequests]: true },
      );
      const result = await oauth.processClientCredentialsResponse(as, client, response);
      expect(result.scope).toBe('users:read');

      const assertion = (claims: Record<string, unknown> = {}, key = pk.key) => {
        const now = Math.floor(Date.now() / 1000);
        return new SignJWT({
          iss: pk.clientId,
          sub: pk.clientId,
          aud: url,
          jti: `a-${Math.random()}`,
          iat: now,
          exp: now + 60,
          ...claims,
        })
          .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
          .sign(key);
      };
      const withAssertion = (jwt: string) =>
        post('/oauth/token', {
          grant_type: 'client_credentials',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: jwt,
        });
      const once = await assertion();
      expect((await withAssertion(once)).statusCode).toBe(200);
      const refusals: Array<[string, string]> = [
        ['replayed', once],
        ['wrong aud', await assertion({ aud: 'https://elsewhere.example' })],
        ['signed with another key', await assertion({}, pk.otherKey)],
        [
          'expired',
          await assertion({ iat: Math.floor(Date.now() / 1000) - 600, exp: Math.floor(Date.now() / 1000) - 300 }),
        ],
        ['lives too long', await assertion({ exp: Math.floor(Date.now() / 1000) + 3600 })],
      ];
      for (const [name, jwt] of refusals) {
        const res = await withAssertion(jwt);
        expect([name, res.statusCode, res.json()]).toEqual([
          name,
          401,
          { error: 'invalid_client', error_description: 'client authentication failed' },
        ]);
      }
      const secretInstead = await post('/oauth/token', {
        grant_type: 'client_credentials',
        client_id: pk.clientId,
        client_secret: 'guess',
      });
      expect(secretInstead.statusCode).toBe(401);

      await core.audit.sequencer.drain();
      const reasons = (await listAuditEntries(core.database.db, { accountId }))
        .filter((e) => e.target_id === pk.id && e.outcome === 'refused')
        .map((e) => (e.details as { reason: string }).reason);
      expect(reasons).toEqual([
        'assertion_replayed',
        'bad_assertion',
        'bad_assertion',
        'bad_assertion',
        'assertion_lifetime_too_long',
        'wrong_method:client_secret_post',
      ]);
    },
  );

  it('issues DPoP-bound tokens to an independent client (oauth4webapi DPoP)', async () => {
    const issuer = new URL(url);
    const as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true }),
    );
    expect(as.dpop_signing_alg_values_supported).toContain('ES256');
    const client = { client_id: apps.soar!.clientId };
    const DPoP = oauth.DPoP({}, await oauth.generateKeyPair('ES256'));
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      client,
      oauth.ClientSecretBasic(apps.soar!.secret),
      new URLSearchParams({ scope: 'users:read' }),
      {
        DPoP,
        [oauth.allowInsecureRequests]: true,
      },
    );
    const result = await oauth.processClientCredentialsResponse(as, client, response);
    expect(result).toMatchObject({ token_type: 'dpop', scope: 'users:read' });
    const { payload } = await jwtVerify(result.access_token, createRemoteJWKSet(new URL(as.jwks_uri!)), {
      issuer: url,
      audience: url,
      typ: 'at+jwt',
    });
    expect(payload.cnf).toEqual({ jkt: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
  });
});
