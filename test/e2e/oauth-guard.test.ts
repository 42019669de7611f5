import type { FastifyInstance } from 'fastify';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { accessTokenHash } from '../../src/oauth/dpop.js';
import { Type } from 'typebox';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { createAccount } from '../../src/directory/accounts.js';
import { createApp, disableApp } from '../../src/oauth/apps.js';
import { requirePermission } from '../../src/http/guards/app-token.js';
import { listAuditEntries } from '../../src/store/audit.js';
import { describeBackends } from '../support/backends.js';
import { useServer } from '../support/server.js';
import { seedAccount, testCtx } from '../support/fixtures.js';

const ISSUER = 'http://127.0.0.1:8080';

describeBackends('resource guard and revocation', (backend) => {
  let core: Core;
  let server: FastifyInstance;
  let accountId: string;
  let otherAccountId: string;
  const creds: Record<string, { clientId: string; secret: string; id: string; accountId: string }> = {};

  const suite = useServer(backend, {
    env: { CORDON_ISSUER: ISSUER },
    build: {
      register: (r) => {
        r.get(
          '/v1/accounts/:account/probe',
          {
            preHandler: requirePermission(suite.core, 'users:list'),
            schema: { response: { 200: Type.Object({ client_id: Type.String() }) } },
          },
          async (request) => ({ client_id: request.principal!.claims.client_id }),
        );
      },
    },
  });

  beforeAll(async () => {
    ({ core, server } = suite);
    accountId = (await seedAccount(core, 1)).accountId;
    otherAccountId = (
      await createAccount(core.directory, testCtx, {
        name: 'Other',
        owner: { email: 'o@other.example', display_name: 'O' },
      })
    ).account.id;
    for (const [name, account, permissions] of [
      ['lister', accountId, ['users:list']],
      ['reader', accountId, ['users:read']],
      ['doomed', accountId, ['users:list']],
      ['outsider', otherAccountId, ['users:list']],
      ['bound', accountId, ['users:list']],
    ] as const) {
      const { app, clientSecret } = await createApp(core.directory, testCtx, account, {
        name,
        permissions: [...permissions],
        dpop_required: name === 'bound',
      });
      creds[name] = { clientId: app.client_id, secret: clientSecret!, id: app.id, accountId: account };
    }
  });

  const basic = (name: string) =>
    `Basic ${Buffer.from(`${creds[name]!.clientId}:${creds[name]!.secret}`).toString('base64')}`;
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
    server.inject({
      url: `/v1/accounts/${account}/probe`,
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });
  const revoke = (name: string, token: string) =>
    server.inject({
      method: 'POST',
      url: '/v1beta1/users/oauth2/revoke',
      headers: { authorization: basic(name), 'content-type': 'application/x-www-form-urlencoded' },
      payload: `token=${encodeURIComponent(token)}`,
    });

  /** A token signed with the real key, with claims and header as the test wants them. */
  const mint = async (claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) => {
    const { kid, key } = await core.keys.signingKey();
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      client_id: creds.lister!.clientId,
      account_id: accountId,
      scope: 'users:list',
      jti: `j${Math.random()}`,
      iss: ISSUER,
      aud: ISSUER,
      sub: creds.lister!.clientId,
      iat: now,
      exp: now + 900,
      ...claims,
    })
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
    const hs256 = await new SignJWT({
      client_id: creds.lister!.clientId,
      account_id: accountId,
      scope: 'users:list',
      jti: 'x',
    })
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
      'tampered payload':
        `${h}.${b64({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), scope: 'users:list users:suspend' })}.` +
        `${s}`,
      'unknown kid': await mint({}, { kid: 'not-a-key' }),
      'missing claims': await mint({ account_id: undefined }),
      // Signed with the real key, only the lifetime wrong: a forged 10-year token, one without iat, and
      // one issued "in the future" to stretch its life past the configured lifetime.
      'lifetime over the TTL': await mint({ iat: now, exp: now + 10 * 365 * 86_400 }),
      'lifetime one second over the TTL': await mint({ iat: now, exp: now + 901 }),
      'no iat': await mint({ iat: undefined }),
      'iat in the future': await mint({ iat: now + 3600, exp: now + 3600 + 900 }),
      garbage: 'abc.def.ghi',
    };
    for (const [name, token] of Object.entries(attacks)) {
      const res = await probe(token);
      expect([name, res.statusCode, res.json()]).toEqual([
        name,
        401,
        {
          code: 16,
          message: 'the access token is invalid or expired',
          details: [
            { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'UNAUTHENTICATED', domain: 'cordon' },
          ],
        },
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
    expect([lacking.statusCode, lacking.json().message]).toEqual([
      403,
      'the access token lacks the users:list permission',
    ]);
    expect(lacking.headers['www-authenticate']).toBe(
      'Bearer realm="cordon", error="insufficient_scope", scope="users:list"',
    );
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
    const badCreds = await server.inject({
      method: 'POST',
      url: '/oauth/revoke',
      headers: {
        authorization: `Basic ${Buffer.from(`${creds.lister!.clientId}:wrong`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      payload: `token=${token}`,
    });
    expect([badCreds.statusCode, badCreds.json()]).toEqual([
      401,
      { error: 'invalid_client', error_description: 'client authentication failed' },
    ]);

    await core.audit.sequencer.drain();
    const revocations = (await listAuditEntries(core.database.db, { accountId }))
      .filter((e) => e.action === 'token.revoke')
      .map((e) => e.outcome);
    expect(revocations).toEqual(['changed', 'unchanged', 'refused']);
    const count = await core.database.db
      .selectFrom('revoked_tokens')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
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
      server.inject({
        method: 'POST',
        url: '/oauth/introspect',
        headers: { authorization: basic(name), 'content-type': 'application/x-www-form-urlencoded' },
        payload: `token=${encodeURIComponent(token)}`,
      });
    const token = await tokenFor('lister');
    const res = await introspect('reader', token);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toMatchObject({
      active: true,
      token_type: 'Bearer',
      client_id: creds.lister!.clientId,
      account_id: accountId,
      scope: 'users:list',
      iss: ISSUER,
      aud: ISSUER,
    });
    expect((await introspect('outsider', token)).json()).toEqual({ active: false });
    expect((await introspect('reader', 'garbage')).json()).toEqual({ active: false });
    await revoke('lister', token);
    expect((await introspect('reader', token)).json()).toEqual({ active: false });
  });

  describe('DPoP (RFC 9449)', () => {
    let key: CryptoKey;
    let jwk: JWK;
    let otherKey: CryptoKey;
    let otherJwk: JWK;
    beforeAll(async () => {
      const pair = await generateKeyPair('ES256', { extractable: true });
      key = pair.privateKey;
      jwk = await exportJWK(pair.publicKey);
      const other = await generateKeyPair('ES256', { extractable: true });
      otherKey = other.privateKey;
      otherJwk = await exportJWK(other.publicKey);
    });

    const proof = (htm: string, htu: string, extra: Record<string, unknown> = {}, signer = { key, jwk }) =>
      new SignJWT({ htm, htu, jti: `p-${Math.random()}`, iat: Math.floor(Date.now() / 1000), ...extra })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: signer.jwk })
        .sign(signer.key);
    const boundToken = async (name = 'bound') => {
      const res = await server.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: {
          authorization: basic(name),
          'content-type': 'application/x-www-form-urlencoded',
          dpop: await proof('POST', `${ISSUER}/oauth/token`),
        },
        payload: 'grant_type=client_credentials',
      });
      expect(res.statusCode).toBe(200);
      expect(res.json().token_type).toBe('DPoP');
      return res.json().access_token as string;
    };
    const probeUrl = () => `${ISSUER}/v1/accounts/${accountId}/probe`;
    const dpopProbe = (token: string, dpop: string | undefined, scheme = 'DPoP') =>
      server.inject({
        url: `/v1/accounts/${accountId}/probe`,
        headers: { authorization: `${scheme} ${token}`, ...(dpop ? { dpop } : {}) },
      });

    it('binds tokens to the proof key and admits requests with a fresh proof for them', async () => {
      const token = await boundToken();
      expect(decodeJwt(token).cnf).toEqual({ jkt: await calculateJwkThumbprint(jwk) });
      const introspected = await server.inject({
        method: 'POST',
        url: '/oauth/introspect',
        headers: { authorization: basic('lister'), 'content-type': 'application/x-www-form-urlencoded' },
        payload: `token=${token}`,
      });
      expect(introspected.json()).toMatchObject({
        active: true,
        token_type: 'DPoP',
        cnf: { jkt: await calculateJwkThumbprint(jwk) },
      });
      const res = await dpopProbe(token, await proof('GET', probeUrl(), { ath: accessTokenHash(token) }));
      expect([res.statusCode, res.json()]).toEqual([200, { client_id: creds.bound!.clientId }]);
    });

    it('refuses replayed, misdirected, foreign-keyed and missing proofs, and the wrong scheme', async () => {
      const token = await boundToken();
      const ath = accessTokenHash(token);
      const used = await proof('GET', probeUrl(), { ath });
      expect((await dpopProbe(token, used)).statusCode).toBe(200);
      const cases: Array<[string, () => ReturnType<typeof dpopProbe>, string]> = [
        ['replayed proof', async () => dpopProbe(token, used), 'invalid_dpop_proof'],
        [
          'proof for another URL',
          async () => dpopProbe(token, await proof('GET', `${ISSUER}/v1/accounts/${otherAccountId}/probe`, { ath })),
          'invalid_dpop_proof',
        ],
        [
          'proof for another method',
          async () => dpopProbe(token, await proof('POST', probeUrl(), { ath })),
          'invalid_dpop_proof',
        ],
        [
          'proof with another key',
          async () => dpopProbe(token, await proof('GET', probeUrl(), { ath }, { key: otherKey, jwk: otherJwk })),
          'invalid_dpop_proof',
        ],
        ['proof without ath', async () => dpopProbe(token, await proof('GET', probeUrl())), 'invalid_dpop_proof'],
        [
          'stale proof',
          async () =>
            dpopProbe(token, await proof('GET', probeUrl(), { ath, iat: Math.floor(Date.now() / 1000) - 300 })),
          'invalid_dpop_proof',
        ],
        [
          'malformed jwk',
          async () =>
            dpopProbe(token, await proof('GET', probeUrl(), { ath }, { key, jwk: { ...jwk, x: [jwk.x] as never } })),
          'invalid_dpop_proof',
        ],
        ['no proof', async () => dpopProbe(token, undefined), 'invalid_token'],
        [
          'bound token as Bearer',
          async () => dpopProbe(token, await proof('GET', probeUrl(), { ath }), 'Bearer'),
          'invalid_token',
        ],
        [
          'Bearer token with the DPoP scheme',
          async () => dpopProbe(await tokenFor('lister'), await proof('GET', probeUrl())),
          'invalid_token',
        ],
      ];
      for (const [name, send, error] of cases) {
        const res = await send();
        expect([name, res.statusCode]).toEqual([name, 401]);
        expect([name, res.headers['www-authenticate']]).toEqual([
          name,
          `DPoP realm="cordon", error="${error}", algs="ES256 ES384 RS256 PS256 EdDSA"`,
        ]);
      }
    });

    it(
      'refuses a token without a proof for an app that ' + 'requires DPoP, and replayed proofs at the token endpoint',
      async () => {
        const none = await server.inject({
          method: 'POST',
          url: '/oauth/token',
          headers: { authorization: basic('bound'), 'content-type': 'application/x-www-form-urlencoded' },
          payload: 'grant_type=client_credentials',
        });
        expect([none.statusCode, none.json()]).toEqual([
          400,
          { error: 'invalid_dpop_proof', error_description: 'this app requires DPoP-bound tokens: send a DPoP proof' },
        ]);
        const once = await proof('POST', `${ISSUER}/oauth/token`);
        const send = (path: string) =>
          server.inject({
            method: 'POST',
            url: path,
            headers: {
              authorization: basic('lister'),
              'content-type': 'application/x-www-form-urlencoded',
              dpop: once,
            },
            payload: 'grant_type=client_credentials',
          });
        expect((await send('/oauth/token')).json().token_type).toBe('DPoP');
        expect((await send('/oauth/token')).json()).toEqual({
          error: 'invalid_dpop_proof',
          error_description: 'the proof was used before',
        });
        expect((await send('/v1/oauth/token')).json().error).toBe('invalid_dpop_proof');
      },
    );
  });
});
