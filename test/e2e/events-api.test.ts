/**
 * The Events API as 1Password's own collectors use it (issue 18 §1), with a client that sends exactly what
 * 1Password's published Events API reference and its sample collectors send:
 * - the token is an events token, read as a JWT before the first request: the base URL is
 *   `https://<aud[0]>` and the features are `1password.com/fts` (events-api-elastic's ParseJWTClaims);
 * - `GET /api/v2/auth/introspect` (the reference) and `/api/auth/introspect` (v1);
 * - `POST /api/v2/<feature>` with `{"limit":1000,"start_time":"%Y-%m-%dT%H:%M:%SZ"}` as JSON, then
 *   `{"cursor"}` while `has_more` (XSOAR's OnePasswordEventCollector);
 * - `POST /api/v1/<feature>` with no Content-Type and `User-Agent: 1Password Events API Beats / 1.x`
 *   (events-api-elastic).
 * Every page is decoded under a strict schema in which each typed field is absent or valid.
 */
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { beforeAll, expect, it } from 'vitest';
import { timeStep, totpCode } from '../../src/directory/totp.js';
import { base32Decode } from '../../src/base32.js';
import { createApp, disableApp } from '../../src/oauth/apps.js';
import { issueEventsToken } from '../../src/oauth/events-tokens.js';
import { EVENTS_TOKEN_PREFIX, parseEventsToken } from '../../src/secret-format.js';
import { suspendUser } from '../../src/directory/user-state.js';
import { describeBackends } from '../support/backends.js';
import { auditTrail, mintSessionToken, choosePassword, testCtx } from '../support/fixtures.js';
import { useServer } from '../support/server.js';
import { seedPeople, type Person } from '../support/sign-in.js';
import { PAGE, AUDIT_EVENT, SIGN_IN_ATTEMPT, ITEM_USAGE, INTROSPECTION_V2 } from '../support/events-api-schemas.js';

const ajv = addFormats.default(new Ajv.default({ strict: true, allErrors: true }));
const checkers = {
  auditevents: ajv.compile(PAGE(AUDIT_EVENT)),
  signinattempts: ajv.compile(PAGE(SIGN_IN_ATTEMPT)),
  itemusages: ajv.compile(PAGE(ITEM_USAGE)),
};
type Feature = keyof typeof checkers;

describeBackends('the Events API, read by 1Password collectors with an events token', (backend) => {
  let server: FastifyInstance;
  let accountId: string;
  let people: Record<string, Person>;
  let appId: string;
  let token: string;
  let ownerSession: string;
  const suite = useServer(backend, {
    env: { CORDON_SIGN_IN_RATE_PER_ADDRESS: '0', CORDON_SIGN_IN_RATE_PER_ADDRESS_EMAIL: '0' },
  });

  /** What a collector derives from the token before its first call (events-api-elastic's utils). */
  const claimsOf = (jwt: string) =>
    JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as {
      aud: string[];
      '1password.com/fts': string[];
      '1password.com/auuid': string;
      jti: string;
    };

  /** A request as the collector sends it, to `https://<aud[0]>` (here, the server under test on that host). */
  const collector = (
    bearer: string,
    method: 'GET' | 'POST',
    path: string,
    payload?: unknown,
    style: 'xsoar' | 'go' = 'xsoar',
  ) => {
    const base = new URL(`https://${claimsOf(bearer).aud[0]}`);
    expect(base.host).toBe(new URL(suite.core.issuer).host);
    return server.inject({
      method,
      url: path,
      headers: {
        host: base.host,
        authorization: `Bearer ${bearer}`,
        ...(style === 'go'
          ? { 'user-agent': '1Password Events API Beats / 1.4.0' }
          : { 'user-agent': 'python-requests/2.31.0', ...(payload ? { 'content-type': 'application/json' } : {}) }),
      },
      ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
    });
  };

  /** Every item of a feature, page by page until has_more is false, each page checked by the strict schema. */
  async function readAll(bearer: string, feature: Feature, style: 'xsoar' | 'go' = 'xsoar', limit = 1000) {
    const version = style === 'go' ? 'v1' : 'v2';
    const items: Array<Record<string, unknown>> = [];
    let body: Record<string, unknown> = { limit, start_time: '2000-01-01T00:00:00Z' };
    for (let pages = 0; pages < 1000; pages++) {
      const res = await collector(bearer, 'POST', `/api/${version}/${feature}`, body, style);
      expect(res.statusCode, res.body).toBe(200);
      const page = res.json();
      expect(checkers[feature](page), JSON.stringify(checkers[feature].errors)).toBe(true);
      items.push(...(page.items as Array<Record<string, unknown>>));
      if (!page.has_more) return { items, cursor: page.cursor as string, pages: pages + 1 };
      body = { cursor: page.cursor };
    }
    throw new Error('paging never ended');
  }

  const signIn = (person: Person | { email: string }, password: string, totp = '000000') =>
    server.inject({
      method: 'POST',
      url: '/v1/auth/sessions',
      payload: { account_id: accountId, email: person.email, password, totp, kind: 'cli' },
      headers: { 'user-agent': 'Mozilla/5.0' },
    });

  beforeAll(async () => {
    ({ server } = suite);
    ({ accountId, people } = await seedPeople(suite.core, [
      ['ana', 'ADMIN'],
      ['bo', 'MEMBER'],
    ]));
    await choosePassword(suite.core, { account_id: accountId, id: people.owner!.id });
    ownerSession = await mintSessionToken(suite.core, { account_id: accountId, id: people.owner!.id });
    const made = await createApp(suite.core.directory, testCtx, accountId, {
      name: 'SIEM',
      permissions: ['audit:read'],
    });
    appId = made.app.id;
    // Real sign-in attempts: a wrong password, an email nobody has, and a success with the TOTP code.
    expect((await signIn(people.bo!, 'not the password')).statusCode).toBe(401);
    expect((await signIn({ email: 'nobody@test.example' }, 'whatever')).statusCode).toBe(401);
    const bo = people.bo!;
    const code = totpCode(base32Decode(bo.creds.totpSecret), timeStep(Date.now() / 1000));
    expect((await signIn(bo, bo.creds.password, code)).statusCode).toBe(201);
    await suspendUser(suite.core.directory, testCtx, accountId, people.ana!.id);
    const res = await server.inject({
      method: 'POST',
      url: `/v1/accounts/${accountId}/apps/${appId}/events-tokens`,
      headers: { authorization: `Bearer ${ownerSession}` },
      payload: {},
    });
    expect(res.statusCode, res.body).toBe(201);
    token = res.json().token;
    await suite.core.audit.settle();
    await suite.core.audit.sequencer.drain();
  });

  it('makes a token in the shape the collector reads: ES256 JWT, aud = [bare host], the features, once', async () => {
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', typ: 'JWT', cty: 'cordon-et' });
    // Recognisable by secret scanners: the fixed start of its header, and the checksum of its payload.
    expect(token.startsWith(EVENTS_TOKEN_PREFIX)).toBe(true);
    expect(parseEventsToken(token)).toEqual({ ok: true });
    const claims = claimsOf(token);
    expect(claims.aud).toEqual([new URL(suite.core.issuer).host]);
    expect(claims['1password.com/fts']).toEqual(['auditevents', 'signinattempts', 'itemusages']);
    expect(claims['1password.com/auuid']).toBe(accountId);
    // Signed by a key the server publishes.
    const jwks = (await server.inject({ url: '/.well-known/jwks.json' })).json<JSONWebKeySet>();
    await expect(jwtVerify(token, createLocalJWKSet(jwks))).resolves.toBeTruthy();
    // Listed without the token; audited with its id, features and audience, never the token.
    const list = await server.inject({
      url: `/v1/accounts/${accountId}/apps/${appId}/events-tokens`,
      headers: { authorization: `Bearer ${ownerSession}` },
    });
    expect(list.json().items).toEqual([
      expect.objectContaining({ id: claims.jti, features: claims['1password.com/fts'], revoke_time: null }),
    ]);
    expect(list.body).not.toContain(token.split('.')[2]);
    const entry = (await auditTrail(suite.core, accountId)).find((e) => e.action === 'app.events_token.create')!;
    expect(entry).toMatchObject({
      target_type: 'app',
      target_id: appId,
      outcome: 'changed',
      details: { token_id: claims.jti, features: claims['1password.com/fts'], audience: claims.aud[0] },
    });
    expect(JSON.stringify(entry)).not.toContain(token.split('.')[2]);
  });

  it('answers the introspection, v2 and v1', async () => {
    const claims = claimsOf(token);
    const v2 = await collector(token, 'GET', '/api/v2/auth/introspect');
    expect(ajv.validate(INTROSPECTION_V2, v2.json()), JSON.stringify(ajv.errors)).toBe(true);
    expect(v2.json()).toMatchObject({
      uuid: claims.jti,
      features: claims['1password.com/fts'],
      account_uuid: accountId,
    });
    const v1 = await collector(token, 'GET', '/api/auth/introspect', undefined, 'go');
    expect(v1.json()).toEqual({
      UUID: claims.jti,
      IssuedAt: v2.json().issued_at,
      Features: claims['1password.com/fts'],
    });
  });

  it('reads audit events in 1Password’s vocabulary, every page strict, paging to the end', async () => {
    const { items } = await readAll(token, 'auditevents');
    const again = await readAll(token, 'auditevents', 'xsoar', 2);
    expect(again.pages).toBeGreaterThan(2);
    expect(again.items.map((i) => i.uuid)).toEqual(items.map((i) => i.uuid));
    expect(new Set(items.map((i) => i.uuid)).size).toBe(items.length);
    const suspend = items.find((i) => i.object_uuid === people.ana!.id && i.action === 'suspend')!;
    expect(suspend).toMatchObject({
      object_type: 'user',
      object_details: { uuid: people.ana!.id, name: 'ana', email: 'ana@test.example' },
      account_uuid: accountId,
      cordon: { action: 'user.suspend', outcome: 'changed' },
    });
    expect(items.find((i) => (i.cordon as { action: string }).action === 'user.create')!.action).toBe('create');
    // What has no 1Password equivalent keeps Cordon's name.
    expect(items.some((i) => i.action === 'app.events_token.create')).toBe(true);
  });

  it('reads the real sign-in attempts, in 1Password’s shape', async () => {
    const { items } = await readAll(token, 'signinattempts', 'go');
    const bo = people.bo!;
    const client = { app_name: 'Cordon CLI', ip_address: '127.0.0.1' };
    expect(items.map(({ uuid: _u, timestamp: _t, session_uuid: _s, ...rest }) => rest)).toEqual([
      {
        category: 'credentials_failed',
        type: 'password_secret_bad',
        details: { value: 'bad_password' },
        target_user: { uuid: bo.id, name: 'bo', email: bo.email },
        client,
        account_uuid: accountId,
      },
      {
        category: 'credentials_failed',
        type: 'password_secret_bad',
        details: { value: 'unknown_email' },
        target_user: { email: 'nobody@test.example' },
        client,
        account_uuid: accountId,
      },
      {
        category: 'success',
        type: 'mfa_ok',
        target_user: { uuid: bo.id, name: 'bo', email: bo.email },
        client,
        account_uuid: accountId,
      },
    ]);
    expect(items[2]!.session_uuid).toMatch(/^[A-Z2-7]{26}$/);
    expect(items[0]!.session_uuid).toBeUndefined();
  });

  it('reads item usages: an empty feed whose paging ends at once', async () => {
    const read = await readAll(token, 'itemusages', 'go');
    expect([read.items, read.pages]).toEqual([[], 1]);
  });

  it('holds the token to its features, its app and its row', async () => {
    const only = await issueEventsToken(
      { ...suite.core.directory, keys: suite.core.keys, issuer: suite.core.issuer },
      testCtx,
      accountId,
      appId,
      { features: ['signinattempts'] },
    );
    const refused = await collector(only.token, 'POST', '/api/v2/auditevents', { limit: 10 });
    expect([refused.statusCode, refused.json().message]).toEqual([
      403,
      'the events token does not carry the auditevents feature',
    ]);
    expect((await collector(only.token, 'POST', '/api/v2/signinattempts', { limit: 10 })).statusCode).toBe(200);
    // Not an access token: the Users API refuses it.
    const users = await server.inject({
      url: `/v1/accounts/${accountId}/users`,
      headers: { authorization: `Bearer ${only.token}` },
    });
    expect(users.statusCode).toBe(401);
    // A token with the same claims but another signature is no token of this server.
    const [h, p] = only.token.split('.');
    const forged = `${h}.${p}.${Buffer.alloc(64, 7).toString('base64url')}`;
    expect((await collector(forged, 'POST', '/api/v2/signinattempts', { limit: 10 })).statusCode).toBe(401);
    // Revoked: 401 from the next request, audited.
    const revoke = await server.inject({
      method: 'POST',
      url: `/v1/accounts/${accountId}/apps/${appId}/events-tokens/${only.row.id}:revoke`,
      headers: { authorization: `Bearer ${ownerSession}` },
    });
    expect([revoke.statusCode, revoke.json().changed]).toEqual([200, true]);
    const after = await collector(only.token, 'POST', '/api/v2/signinattempts', { limit: 10 });
    expect(after.statusCode).toBe(401);
    expect(after.headers['www-authenticate']).toBe('Bearer realm="cordon", error="invalid_token"');
    const trail = await auditTrail(suite.core, accountId);
    expect(trail.find((e) => e.action === 'app.events_token.revoke')).toMatchObject({
      outcome: 'changed',
      details: { token_id: only.row.id },
    });
  });

  it('refuses a token for an app without audit:read, and ends every token of a disabled app', async () => {
    const deps = { ...suite.core.directory, keys: suite.core.keys, issuer: suite.core.issuer };
    const reader = await createApp(suite.core.directory, testCtx, accountId, {
      name: 'users only',
      permissions: ['users:read'],
    });
    await expect(issueEventsToken(deps, testCtx, accountId, reader.app.id, {})).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
    });
    const bad = await server.inject({
      method: 'POST',
      url: `/v1/accounts/${accountId}/apps/${appId}/events-tokens`,
      headers: { authorization: `Bearer ${ownerSession}` },
      payload: { audience: 'https://events.example.com/path', features: ['auditevents'] },
    });
    expect([bad.statusCode, bad.json().message]).toEqual([
      400,
      'audience must be a bare host (and port), such as events.example.com: the collector calls https://<audience>',
    ]);
    const other = await createApp(suite.core.directory, testCtx, accountId, { name: 'x', permissions: ['audit:read'] });
    const made = await issueEventsToken(deps, testCtx, accountId, other.app.id, {});
    expect((await collector(made.token, 'GET', '/api/v2/auth/introspect')).statusCode).toBe(200);
    await disableApp(suite.core.directory, testCtx, accountId, other.app.id);
    expect((await collector(made.token, 'GET', '/api/v2/auth/introspect')).statusCode).toBe(401);
  });
});
