/**
 * The scim connector's writes against a real SCIM 2.0 server (SCIMMY + scimmy-routers): suspend and
 * reactivate by PATCH (the exact body, as the server received it), the PUT fallback where PATCH is
 * unsupported, ETags with a 412 retried once, the mapping of a refused write, and answers that are not
 * SCIM. The server's store is the judge of every outcome.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startScimServer, type ScimServer, type ScimUser } from '../../test/support/scim-server.js';
import { TargetError, type Connector } from './connector.js';
import { scim } from './scim.js';

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

let server: ScimServer;
let alice: ScimUser;
let admins: string;
beforeEach(async () => {
  server = await startScimServer();
  alice = server.addUser({
    userName: 'alice@corp.example',
    displayName: 'Alice',
    title: 'Engineer',
    emails: [{ value: 'alice@corp.example', type: 'work', primary: true }],
  });
  admins = server.addGroup('admins', [alice.id]);
});
afterEach(async () => {
  await server.close();
});

function connect(): Connector {
  return scim.create({
    config: { base_url: server.url },
    credentials: { token: server.token },
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

const writes = () =>
  server.requests
    .filter((r) => r.method === 'PATCH' || r.method === 'PUT')
    .map((r) => ({ method: r.method, body: r.body, ifMatch: r.ifMatch, contentType: r.contentType }));

describe('PATCH', () => {
  it('suspends with exactly the PatchOp replacing active, and touches nothing else', async () => {
    await connect().suspend(alice.id);
    expect(writes()).toEqual([
      {
        method: 'PATCH',
        body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] },
        ifMatch: undefined,
        contentType: 'application/scim+json',
      },
    ]);
    expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /ServiceProviderConfig',
      `PATCH /Users/${alice.id}`,
    ]);
    const { version: _v, ...stored } = server.user(alice.id)!;
    const { version: _v0, ...before } = alice;
    expect(stored).toEqual({ ...before, active: false });
    expect(server.groupsOf(alice.id)).toEqual(['admins']);
    expect((await connect().read(alice.id))?.state).toBe('SUSPENDED');
  });

  it('is idempotent: a second suspend leaves the user suspended', async () => {
    const connector = connect();
    await connector.suspend(alice.id);
    await connector.suspend(alice.id);
    expect(server.user(alice.id)?.active).toBe(false);
    expect(server.count('PATCH')).toBe(2);
  });

  it('reactivates by setting active and nothing else: what was removed meanwhile stays removed', async () => {
    const connector = connect();
    await connector.suspend(alice.id);
    server.touch(alice.id, { title: null });
    server.removeMember(admins, alice.id);
    await connector.reactivate(alice.id);
    expect(writes()[1]).toEqual({
      method: 'PATCH',
      body: { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: true }] },
      ifMatch: undefined,
      contentType: 'application/scim+json',
    });
    const stored = server.user(alice.id)!;
    expect(stored.active).toBe(true);
    expect(stored).not.toHaveProperty('title');
    expect(server.groupsOf(alice.id)).toEqual([]);
  });

  it('retries in the path-less form once when the provider refuses the path (400 invalidPath)', async () => {
    server.inject({ status: 400, scimType: 'invalidPath', detail: 'path not supported', method: 'PATCH' });
    await connect().suspend(alice.id);
    expect(writes().map((w) => w.body)).toEqual([
      { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] },
      { schemas: [PATCH_OP], Operations: [{ op: 'replace', value: { active: false } }] },
    ]);
    expect(server.user(alice.id)?.active).toBe(false);
  });

  it('maps a 403 on the write to protected and a 404 to gone, with the server detail', async () => {
    server.inject({ status: 403, detail: 'This user is the last administrator', method: 'PATCH' });
    const refused = await failure(connect().suspend(alice.id));
    expect(refused.details).toEqual({
      class: 'protected',
      status: 403,
      code: null,
      message: 'This user is the last administrator',
      request_id: null,
    });
    expect(server.user(alice.id)?.active).toBe(true);
    const gone = await failure(connect().suspend('no-such-id'));
    expect(gone.details).toEqual({
      class: 'gone',
      status: 404,
      code: null,
      message: 'Resource no-such-id not found',
      request_id: null,
    });
    server.inject({ status: 429, detail: 'slow down', method: 'PATCH', headers: { 'retry-after': '3' } });
    const limited = await failure(connect().suspend(alice.id));
    expect([limited.details.class, limited.retryAfterMs]).toEqual(['retry', 3000]);
  });
});

describe('PUT where PATCH is unsupported', () => {
  it('reads the user and puts it back whole with only active changed', async () => {
    server.setPatchSupported(false);
    const connector = connect();
    await connector.suspend(alice.id);
    expect(server.count('PATCH')).toBe(0);
    expect(writes()).toEqual([
      {
        method: 'PUT',
        body: {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
          id: alice.id,
          userName: 'alice@corp.example',
          displayName: 'Alice',
          title: 'Engineer',
          emails: [{ value: 'alice@corp.example', type: 'work', primary: true }],
          active: false,
        },
        ifMatch: undefined,
        contentType: 'application/scim+json',
      },
    ]);
    expect(server.user(alice.id)).toMatchObject({ active: false, title: 'Engineer' });
    expect(server.groupsOf(alice.id)).toEqual(['admins']);

    server.touch(alice.id, { title: null });
    server.removeMember(admins, alice.id);
    await connector.reactivate(alice.id);
    const stored = server.user(alice.id)!;
    expect(stored.active).toBe(true);
    expect(stored).not.toHaveProperty('title');
    expect(server.groupsOf(alice.id)).toEqual([]);
    expect(server.count('PUT')).toBe(2);
  });

  it('falls back to PUT when a PATCH answers 501, though the config said PATCH', async () => {
    server.inject({ status: 501, detail: 'not here', method: 'PATCH' });
    await connect().suspend(alice.id);
    expect(writes().map((w) => w.method)).toEqual(['PATCH', 'PUT']);
    expect(server.user(alice.id)?.active).toBe(false);
  });

  it('maps a 403 on the PUT to protected', async () => {
    server.setPatchSupported(false);
    server.inject({ status: 403, detail: 'Managed by the directory', method: 'PUT' });
    expect((await failure(connect().suspend(alice.id))).details).toMatchObject({
      class: 'protected',
      message: 'Managed by the directory',
    });
    expect(server.user(alice.id)?.active).toBe(true);
  });
});

describe('ETags', () => {
  it('sends If-Match with the version read, and on a 412 reads again and retries once', async () => {
    server.setEtagSupported(true);
    server.beforeNext('PATCH', () => server.touch(alice.id, { title: 'Manager' }));
    await connect().suspend(alice.id);
    expect(server.requests.map((r) => `${r.method} ${r.path} ${r.ifMatch ?? '-'}`)).toEqual([
      'GET /ServiceProviderConfig -',
      `GET /Users/${alice.id} -`,
      `PATCH /Users/${alice.id} W/"1"`,
      `GET /Users/${alice.id} -`,
      `PATCH /Users/${alice.id} W/"2"`,
    ]);
    expect(server.user(alice.id)).toMatchObject({ active: false, title: 'Manager', version: 3 });
  });

  it('puts with If-Match too, and a second 412 is a retry for later', async () => {
    server.setEtagSupported(true);
    server.setPatchSupported(false);
    server.beforeNext('PUT', () => server.touch(alice.id));
    server.beforeNext('PUT', () => server.touch(alice.id));
    const error = await failure(connect().suspend(alice.id));
    expect(error.details).toMatchObject({ class: 'retry', status: 412 });
    expect(writes().map((w) => w.ifMatch)).toEqual(['W/"1"', 'W/"2"']);
    expect(server.user(alice.id)?.active).toBe(true);
    await connect().suspend(alice.id);
    expect(server.user(alice.id)?.active).toBe(false);
    expect(writes().map((w) => w.ifMatch)).toEqual(['W/"1"', 'W/"2"', 'W/"3"']);
  });
});

describe('answers that are not SCIM', () => {
  it('refuses a 200 without a User in it as invalid_response, never as an identity', async () => {
    server.inject({ status: 200, detail: '', body: { ok: true }, method: 'GET' });
    expect((await failure(connect().read(alice.id))).details).toMatchObject({
      class: 'fatal',
      code: 'invalid_response',
    });
    server.inject({ status: 200, detail: '', body: { Resources: [{ userName: 'x' }], totalResults: 1 } });
    expect((await failure(connect().list(undefined))).details.code).toBe('invalid_response');
  });
});
