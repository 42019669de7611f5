/**
 * The scim connector against a real SCIM 2.0 server (SCIMMY + scimmy-routers, test/support/scim-server.ts)
 * over real HTTP: settings, resolution, reads, paging, errors, OAuth, health. Writes: scim-write.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startScimServer, type ScimServer } from '../../test/support/scim-server.js';
import { TargetError, type Connector } from './connector.js';
import { scim } from './scim.js';
import { scimFilter } from './scim-wire.js';

let server: ScimServer;
beforeEach(async () => {
  server = await startScimServer();
});
afterEach(async () => {
  await server.close();
});

function connect(config: Record<string, unknown> = {}, credentials?: Record<string, unknown>): Connector {
  return scim.create({
    config: { base_url: server.url, ...config },
    credentials: credentials ?? { token: server.token },
    userAgent: 'Cordon/test',
  });
}

async function failure(promise: Promise<unknown>): Promise<TargetError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TargetError);
  return error as TargetError;
}

/** The filters the server received, decoded. */
function filters(): string[] {
  return server.requests
    .map((r) => new URL(r.path, 'http://x').searchParams.get('filter'))
    .filter((f): f is string => f !== null);
}

describe('settings', () => {
  it('normalises a bearer config and refuses what is not one, naming the field', () => {
    expect(scim.validate({ base_url: 'https://app.example/scim/v2/' }, { token: 't' })).toEqual({
      config: { base_url: 'https://app.example/scim/v2', auth: 'bearer', page_size: 100 },
      credentials: { token: 't' },
    });
    const refused = (config: unknown, credentials: unknown) => {
      try {
        scim.validate(config, credentials);
      } catch (error) {
        return (error as { code: string; description: string }).description;
      }
      throw new Error('accepted');
    };
    expect(refused({ base_url: 'http://app.example/scim/v2' }, { token: 't' })).toBe(
      'config.base_url: expected an https:// URL (http:// only on a loopback address)',
    );
    expect(refused({ base_url: 'https://app.example/scim?x=1' }, { token: 't' })).toBe(
      'config.base_url: expected a URL without query or fragment',
    );
    expect(refused({ base_url: 'https://u:p@app.example/scim' }, { token: 't' })).toBe(
      'config.base_url: credentials do not belong in the URL',
    );
    expect(refused({ base_url: 'https://app.example', region: 'eu' }, { token: 't' })).toBe(
      'config.region: not a setting of a scim target',
    );
    expect(refused({ base_url: 'https://app.example', auth: 'oauth' }, { client_id: 'c', client_secret: 's' })).toBe(
      'config.token_url: expected a non-empty string of at most 2000 characters without control characters',
    );
    expect(refused({ base_url: 'https://app.example' }, { token: 't', client_secret: 'hunter2' })).toBe(
      'credentials.client_secret: not a credential of auth "bearer"',
    );
    expect(refused({ base_url: 'https://app.example' }, { token: '' })).toMatch(/^credentials\.token: /);
    expect(refused({ base_url: 'https://app.example', page_size: 0 }, { token: 't' })).toBe(
      'config.page_size: expected an integer from 1 to 1000',
    );
    expect(
      scim.validate(
        {
          base_url: 'http://127.0.0.1:8080/scim/v2',
          auth: 'oauth',
          token_url: 'https://idp.example/token',
          scope: 's',
        },
        { client_id: 'c', client_secret: 's' },
      ).config,
    ).toEqual({
      base_url: 'http://127.0.0.1:8080/scim/v2',
      auth: 'oauth',
      token_url: 'https://idp.example/token',
      scope: 's',
      page_size: 100,
    });
  });
});

describe('resolve and read', () => {
  it('finds a user by userName, as the server holds it', async () => {
    const [, bob] = server.seed(3);
    const connector = connect();
    expect(await connector.resolve({ user_name: 'user0001@corp.example' })).toEqual({
      external_id: bob!.id,
      email: 'user0001@corp.example',
      user_name: 'user0001@corp.example',
      display_name: 'User 1',
      state: 'ACTIVE',
    });
    expect(filters()).toEqual(['userName eq "user0001@corp.example"']);
    expect(scimFilter('userName', 'a"b\\c')).toBe('userName eq "a\\"b\\\\c"');
    expect(server.requests[0]).toMatchObject({ method: 'GET', userAgent: 'Cordon/test' });
    expect(connector.takeCalls()).toEqual([
      {
        method: 'GET',
        path: '/scim/v2/Users?filter=userName%20eq%20%22user0001%40corp.example%22',
        status: 200,
        latency_ms: expect.any(Number) as number,
        request_id: null,
      },
    ]);
  });

  it('falls back from userName to emails.value', async () => {
    const carol = server.addUser({
      userName: 'carol',
      name: { givenName: 'Carol', familyName: 'Danvers' },
      emails: [
        { value: 'c@home.example', type: 'home' },
        { value: 'carol@corp.example', type: 'work', primary: true },
      ],
    });
    server.seed(2);
    expect(await connect().resolve({ email: 'carol@corp.example' })).toEqual({
      external_id: carol.id,
      email: 'carol@corp.example',
      user_name: 'carol',
      display_name: 'Carol Danvers',
      state: 'ACTIVE',
    });
    expect(filters()).toEqual(['userName eq "carol@corp.example"', 'emails.value eq "carol@corp.example"']);
  });

  it('prefers a known external id, answers null for nobody and refuses to choose between two', async () => {
    const [alice] = server.seed(1);
    expect((await connect().resolve({ external_id: alice!.id, email: 'x@corp.example' }))?.external_id).toBe(alice!.id);
    expect(server.requests.map((r) => r.path)).toEqual([`/Users/${alice!.id}`]);
    expect(await connect().resolve({ email: 'nobody@corp.example' })).toBeNull();
    for (const userName of ['d1', 'd2']) server.addUser({ userName, emails: [{ value: 'dup@corp.example' }] });
    const error = await failure(connect().resolve({ email: 'dup@corp.example' }));
    expect(error.details).toEqual({
      class: 'fatal',
      status: null,
      code: 'ambiguous',
      message: '2 users have the email dup@corp.example; none was chosen',
      request_id: null,
    });
  });

  it('reads a user by id, SUSPENDED when inactive, and null when the server has none', async () => {
    const user = server.addUser({ userName: 'eve', active: false, displayName: 'Eve' });
    expect(await connect().read(user.id)).toEqual({
      external_id: user.id,
      email: null,
      user_name: 'eve',
      display_name: 'Eve',
      state: 'SUSPENDED',
    });
    expect(await connect().read('no-such-id')).toBeNull();
  });
});

describe('list', () => {
  it('walks every user in startIndex/count pages', async () => {
    const seeded = server.seed(5);
    const connector = connect({ page_size: 2 });
    const pages: { names: (string | null)[]; next: string | undefined }[] = [];
    let page: string | undefined;
    do {
      const result = await connector.list(page);
      pages.push({ names: result.identities.map((i) => i.user_name), next: result.next });
      page = result.next;
    } while (page !== undefined);
    const names = seeded.map((u) => u.userName);
    expect(pages).toEqual([
      { names: names.slice(0, 2), next: '3' },
      { names: names.slice(2, 4), next: '5' },
      { names: names.slice(4), next: undefined },
    ]);
    expect(server.requests.map((r) => r.path)).toEqual([
      '/Users?startIndex=1&count=2',
      '/Users?startIndex=3&count=2',
      '/Users?startIndex=5&count=2',
    ]);
    expect(await connect().list(undefined)).toMatchObject({ next: undefined });
    expect((await failure(connector.list('zero'))).details.code).toBe('invalid_page');
  });
});

describe('errors', () => {
  it('maps a wrong bearer token to auth, with the server detail', async () => {
    const error = await failure(connect({}, { token: 'wrong' }).read('x'));
    expect(error.details).toEqual({
      class: 'auth',
      status: 401,
      code: null,
      message: 'The bearer token is not valid',
      request_id: null,
    });
    expect(server.requests).toHaveLength(1);
  });

  it('maps 429 to retry with Retry-After, 5xx and a closed port to retry, 403 on a read to fatal', async () => {
    server.inject({ status: 429, detail: 'Too many requests', headers: { 'retry-after': '7' } });
    const limited = await failure(connect().resolve({ user_name: 'a' }));
    expect(limited.details).toMatchObject({ class: 'retry', status: 429, message: 'Too many requests' });
    expect(limited.retryAfterMs).toBe(7000);
    server.inject({ status: 503, detail: 'maintenance' });
    expect((await failure(connect().read('x'))).details).toMatchObject({ class: 'retry', status: 503 });
    server.inject({ status: 403, detail: 'Reading users is not allowed', method: 'GET' });
    expect((await failure(connect().read('x'))).details).toMatchObject({
      class: 'fatal',
      status: 403,
      message: 'Reading users is not allowed',
    });
    // The library's own 400: SCIMMY's filter parser does not take the RFC's escaped quote.
    expect((await failure(connect().resolve({ user_name: 'we"ird' }))).details).toMatchObject({
      class: 'fatal',
      status: 400,
      code: 'invalidFilter',
    });
    expect(filters().at(-1)).toBe('userName eq "we\\"ird"');
    const connector = connect();
    await server.close();
    const refused = await failure(connector.read('x'));
    expect(refused.details).toMatchObject({ class: 'retry', status: null });
    server = await startScimServer();
  });
});

describe('oauth', () => {
  const oauth = () =>
    connect(
      { auth: 'oauth', token_url: server.tokenUrl },
      { client_id: server.clientId, client_secret: server.clientSecret },
    );

  it('fetches a token once, and on a 401 fetches a new one and retries once', async () => {
    const [alice] = server.seed(1);
    const connector = oauth();
    expect((await connector.read(alice!.id))?.user_name).toBe('user0000@corp.example');
    expect((await connector.read(alice!.id))?.user_name).toBe('user0000@corp.example');
    const first = server.requests[0]!.authorization;
    expect(first).toMatch(/^Bearer oauth-/);
    expect(server.requests[1]!.authorization).toBe(first);
    server.revokeIssuedTokens();
    expect((await connector.read(alice!.id))?.user_name).toBe('user0000@corp.example');
    expect(server.requests.map((r) => r.authorization === first)).toEqual([true, true, true, false]);
    expect(connector.takeCalls().map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual([
      'POST /oauth/token 200',
      `GET /scim/v2/Users/${alice!.id} 200`,
      `GET /scim/v2/Users/${alice!.id} 200`,
      `GET /scim/v2/Users/${alice!.id} 401`,
      'POST /oauth/token 200',
      `GET /scim/v2/Users/${alice!.id} 200`,
    ]);
    server.inject({ status: 401, detail: 'token revoked', times: 2 });
    const error = await failure(connector.read(alice!.id));
    expect(error.details).toMatchObject({ class: 'auth', status: 401, message: 'token revoked' });
    expect(server.requests).toHaveLength(6);
  });

  it('maps a refused client to auth with the token endpoint error', async () => {
    const connector = connect(
      { auth: 'oauth', token_url: server.tokenUrl },
      { client_id: server.clientId, client_secret: 'wrong' },
    );
    const error = await failure(connector.read('x'));
    expect(error.details).toMatchObject({
      class: 'auth',
      status: 401,
      code: 'invalid_client',
      message: 'client authentication failed',
    });
    expect(connector.takeCalls().map((c) => `${c.method} ${c.path} ${c.status}`)).toEqual(['POST /oauth/token 401']);
  });
});

describe('health', () => {
  it('reports ok with the latency, or the exact error', async () => {
    expect(await connect().health()).toEqual({ ok: true, latency_ms: expect.any(Number) as number });
    expect(server.requests.map((r) => r.path)).toEqual(['/ServiceProviderConfig', '/Users?startIndex=1&count=1']);
    expect(await connect({}, { token: 'wrong' }).health()).toEqual({
      ok: false,
      latency_ms: expect.any(Number) as number,
      error: { class: 'auth', status: 401, code: null, message: 'The bearer token is not valid', request_id: null },
    });
  });
});
