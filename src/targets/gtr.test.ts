/**
 * The gtr connector against a real `cordon serve` (a second Cordon process serving Global Token Revocation):
 * signed JWTs (ES256, EdDSA, RS256 keys the peer's app registered) and a bearer access token, the peer's
 * sessions really ended, 404 gone, 403 fatal, 401 auth after one fresh JWT, health, and nothing to read, list
 * or undo. The peer's own audit log proves what was done to it.
 */
import { createServer, type Server } from 'node:http';
import type { ChildProcess } from 'node:child_process';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApp } from '../oauth/apps.js';
import { auditTrail, mintSessionToken, seedAccount, testCtx } from '../../test/support/fixtures.js';
import { createTestDatabase, describeBackends, openTestCore, type TestDatabase } from '../../test/support/backends.js';
import { startServer, stopServer } from '../../test/support/cli.js';
import type { User } from '../storage/schema.js';
import { TargetError, type Connector } from './connector.js';
import { gtr } from './gtr.js';

/** The peer's issuer: a fixed loopback URL, unlike its listening port, so the JWT audience is configured apart. */
const ISSUER = 'http://127.0.0.1:7443';
const PATH = '/oauth/global-token-revocation';
const USER_AGENT = 'Cordon/test';

describeBackends('gtr connector against another Cordon', (backend) => {
  let database: TestDatabase;
  let peer: { child: ChildProcess; url: string };
  let accountId: string;
  let members: User[];
  const sessions: Record<string, string[]> = {};
  const clients: Record<string, { clientId: string; secret?: string }> = {};
  const keys: Record<string, JWK> = {};

  beforeAll(async () => {
    database = await createTestDatabase(backend);
    const core = await openTestCore(database, { CORDON_ISSUER: ISSUER });
    try {
      const seed = await seedAccount(core, 4);
      accountId = seed.accountId;
      members = seed.members;
      const publics: JWK[] = [];
      for (const [kid, alg] of [
        ['es', 'ES256'],
        ['ed', 'EdDSA'],
        ['rs', 'RS256'],
      ] as const) {
        const pair = await generateKeyPair(alg, { extractable: true });
        keys[kid] = { ...(await exportJWK(pair.privateKey)), kid };
        publics.push({ ...(await exportJWK(pair.publicKey)), kid });
      }
      const make = async (name: string, input: Omit<Parameters<typeof createApp>[3], 'name'>) => {
        const { app, clientSecret } = await createApp(core.directory, testCtx, accountId, { name, ...input });
        clients[name] = { clientId: app.client_id, ...(clientSecret ? { secret: clientSecret } : {}) };
      };
      const jwks = { keys: publics };
      await make('idp', { permissions: ['sessions:revoke_all'], auth_method: 'private_key_jwt', jwks });
      await make('idp-reader', { permissions: ['users:read'], auth_method: 'private_key_jwt', jwks });
      await make('revoker', { permissions: ['sessions:revoke_all'] });
      for (const user of members)
        sessions[user.email] = [await mintSessionToken(core, user), await mintSessionToken(core, user)];
    } finally {
      await core.close();
    }
    peer = await startServer({ ...database.env, CORDON_ISSUER: ISSUER, CORDON_DEMO: 'false' });
  });
  afterAll(async () => {
    if (peer) await stopServer(peer.child);
    await database?.drop();
  });

  const jwtTarget = (kid = 'es', client = 'idp', audience = `${ISSUER}${PATH}`) =>
    gtr.create({
      config: { endpoint: `${peer.url}${PATH}`, auth: 'jwt', audience },
      credentials: { client_id: clients[client]!.clientId, private_jwk: keys[kid]! },
      userAgent: USER_AGENT,
    });
  const bearerTarget = (token: string) =>
    gtr.create({
      config: { endpoint: `${peer.url}${PATH}`, auth: 'bearer' },
      credentials: { token },
      userAgent: USER_AGENT,
    });
  const accessToken = async () => {
    const { clientId, secret } = clients.revoker!;
    const res = await fetch(`${peer.url}/oauth/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { access_token: string }).access_token;
  };
  /** How many of the user's sessions still sign in on the peer. */
  const living = async (user: User) => {
    let count = 0;
    for (const token of sessions[user.email]!) {
      const res = await fetch(`${peer.url}/v1/auth/sessions/current`, {
        headers: { authorization: `Bearer ${token}` },
      });
      if (res.status === 200) count++;
    }
    return count;
  };
  const failure = async (promise: Promise<unknown>): Promise<TargetError> => {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TargetError);
    return error as TargetError;
  };
  const suspendByEmail = async (connector: Connector, user: User) => {
    const identity = await connector.resolve({ email: user.email, user_name: 'ignored' });
    expect(identity).toEqual({
      external_id: user.email,
      email: user.email,
      user_name: 'ignored',
      display_name: null,
      state: 'UNKNOWN',
    });
    expect(connector.takeCalls()).toEqual([]);
    await connector.suspend(identity!.external_id);
  };

  it('ends the subject’s sessions on the peer with a signed JWT, whatever the key type', async () => {
    for (const [i, kid] of (['es', 'ed', 'rs'] as const).entries()) {
      const user = members[i]!;
      expect(await living(user)).toBe(2);
      const connector = jwtTarget(kid);
      expect(connector.verifiable).toBe(false);
      await suspendByEmail(connector, user);
      expect(await living(user), kid).toBe(0);
      expect(connector.takeCalls()).toEqual([
        { method: 'POST', path: PATH, status: 204, latency_ms: expect.any(Number), request_id: expect.any(String) },
      ]);
      // Idempotent: the peer answers 204 again, with nothing left to end.
      await connector.suspend(user.email);
      expect(connector.takeCalls().map((c) => c.status)).toEqual([204]);
    }
  });

  it('ends them with a bearer access token of an app holding sessions:revoke_all', async () => {
    const user = members[3]!;
    expect(await living(user)).toBe(2);
    const connector = bearerTarget(await accessToken());
    await suspendByEmail(connector, user);
    expect(await living(user)).toBe(0);
  });

  it('maps the peer’s answers: 404 gone, 403 fatal, 401 auth (after one fresh JWT)', async () => {
    const unknown = await failure(jwtTarget().suspend('nobody@test.example'));
    expect(unknown.details).toEqual({
      class: 'gone',
      status: 404,
      code: 'user_not_found',
      message: 'user not found',
      request_id: expect.any(String),
    });
    const reader = jwtTarget('es', 'idp-reader');
    const forbidden = await failure(reader.suspend(members[0]!.email));
    expect(forbidden.details).toMatchObject({ class: 'fatal', status: 403, code: 'insufficient_scope' });
    // An audience the peer does not answer to: refused twice, one fresh JWT in between.
    const misdirected = jwtTarget('es', 'idp', 'https://elsewhere.example/oauth/global-token-revocation');
    const refused = await failure(misdirected.suspend(members[0]!.email));
    expect(refused.details).toMatchObject({ class: 'auth', status: 401, code: 'invalid_token' });
    expect(misdirected.takeCalls().map((c) => c.status)).toEqual([401, 401]);
    // A bearer token cannot renew itself: one call.
    const stale = bearerTarget('not-a-token');
    expect((await failure(stale.suspend(members[0]!.email))).details.class).toBe('auth');
    expect(stale.takeCalls()).toHaveLength(1);
  });

  it('checks health with a subject that cannot exist (404 proves the credentials work)', async () => {
    for (const connector of [jwtTarget('ed'), bearerTarget(await accessToken())]) {
      expect(await connector.health()).toEqual({ ok: true, latency_ms: expect.any(Number) });
      expect(connector.takeCalls().map((c) => [c.path, c.status])).toEqual([[PATH, 404]]);
    }
    const bad = await bearerTarget('wrong').health();
    expect(bad).toMatchObject({ ok: false, error: { class: 'auth', status: 401, code: 'invalid_token' } });
  });

  it('has nothing to read, list or undo: revocation only', async () => {
    const connector = jwtTarget();
    await connector.reactivate(members[0]!.email);
    expect((await failure(connector.read(members[0]!.email))).details).toMatchObject({
      class: 'fatal',
      code: 'not_verifiable',
    });
    expect((await failure(connector.list(undefined))).details).toMatchObject({
      class: 'fatal',
      message: 'gtr targets cannot be listed',
    });
    expect(connector.takeCalls()).toEqual([]);
    await connector.close();
  });

  it('retries 429 and 5xx with the target’s Retry-After', async () => {
    const answers = [
      [429, '7'],
      [503, '2'],
      [500, ''],
    ] as const;
    let n = 0;
    const flaky: Server = createServer((_req, res) => {
      const [status, after] = answers[n++]!;
      res.writeHead(status, after ? { 'retry-after': after } : {}).end();
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = flaky.address() as { port: number };
      const connector = gtr.create({
        config: { endpoint: `http://127.0.0.1:${port}${PATH}`, auth: 'bearer' },
        credentials: { token: 't' },
        userAgent: USER_AGENT,
      });
      const seen = [];
      for (let i = 0; i < answers.length; i++) {
        const error = await failure(connector.suspend('a@b.example'));
        seen.push([error.details.class, error.details.status, error.retryAfterMs]);
      }
      expect(seen).toEqual([
        ['retry', 429, 7000],
        ['retry', 503, 2000],
        ['retry', 500, undefined],
      ]);
    } finally {
      await new Promise((resolve) => flaky.close(resolve));
    }
  });

  it('is recorded in the peer’s own audit log', async () => {
    await stopServer(peer.child);
    const core = await openTestCore(database, { CORDON_ISSUER: ISSUER });
    try {
      const entries = (await auditTrail(core, accountId)).filter((e) => e.action === 'user.sessions.revoke_all');
      const changed = entries.filter((e) => e.outcome === 'changed');
      expect(changed.map((e) => [e.actor_id, e.target_id, (e.details as { count: number }).count])).toEqual([
        [clients.idp!.clientId, members[0]!.id, 2],
        [clients.idp!.clientId, members[1]!.id, 2],
        [clients.idp!.clientId, members[2]!.id, 2],
        [clients.revoker!.clientId, members[3]!.id, 2],
      ]);
      expect(changed.map((e) => (e.authz as { method: string }).method)).toEqual([
        'private_key_jwt',
        'private_key_jwt',
        'private_key_jwt',
        'bearer',
      ]);
    } finally {
      await core.close();
    }
    peer = await startServer({ ...database.env, CORDON_ISSUER: ISSUER, CORDON_DEMO: 'false' });
  });
});
