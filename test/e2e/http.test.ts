import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { AppError } from '../../src/errors.js';
import { auditRefusals } from '../../src/http/audited-calls.js';
import { buildMetricsServer } from '../../src/http/metrics-server.js';
import { buildServer } from '../../src/http/server.js';
import { createAccount } from '../../src/directory/accounts.js';
import { auditTrail, captureLogs, testCtx } from '../support/fixtures.js';
import { BACKENDS, createTestDatabase, describeBackends, openTestCore } from '../support/backends.js';
import { useServer } from '../support/server.js';
import { useTempDir } from '../support/temp-dir.js';

const internal = (reason = 'INTERNAL') => ({
  code: 13,
  message: 'internal error',
  details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason, domain: 'cordon' }],
});

describeBackends('HTTP skeleton', (backend) => {
  let core: Core;
  let app: FastifyInstance;
  const { logger, lines: logLines } = captureLogs();
  /** What the next /t/… calls fail with. */
  const awayWith: Error[] = [];

  const suite = useServer(backend, {
    logger,
    build: {
      register: (r) => {
        r.get('/boom', { schema: { response: { 200: Type.Object({}) } } }, async () => {
          throw new Error('secret internals at /srv/cordon/db.ts:42');
        });
        // A call whose database went away under it (as pg reports it), on a route that audits refusals.
        r.get(
          '/t/accounts/:account/users/:user',
          { schema: { response: { 200: Type.Object({}) } }, ...auditRefusals(suite.core)('user.read') },
          async () => {
            throw awayWith.shift()!;
          },
        );
        r.get('/refuse', { schema: { response: { 200: Type.Object({}) } } }, async () => {
          throw new AppError('LAST_OWNER', { detail: 'log-only detail', metadata: { user_id: 'U1' } });
        });
        r.post(
          '/echo',
          {
            schema: {
              body: Type.Object({ n: Type.Integer({ minimum: 1 }) }),
              response: { 200: Type.Object({ n: Type.Integer() }) },
            },
          },
          async (req) => ({ n: (req.body as { n: number }).n, password: 'must be stripped' }),
        );
      },
    },
  });

  beforeAll(() => {
    ({ core, server: app } = suite);
  });

  it('serves /healthz and /readyz', async () => {
    const health = await app.inject('/healthz');
    expect([health.statusCode, health.json()]).toEqual([200, { status: 'ok' }]);
    const ready = await app.inject('/readyz');
    expect([ready.statusCode, ready.json()]).toEqual([200, { status: 'ok', database: backend }]);
  });

  it('keeps Prometheus metrics, from its own registry, off the public listener without a token', async () => {
    await app.inject('/healthz');
    expect((await app.inject('/metrics')).statusCode).toBe(404);
    const res = await buildMetricsServer(core).inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toMatch(
      /cordon_http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\} \d+/,
    );
    expect(res.body).toContain('process_resident_memory_bytes');
  });

  it('generates the OpenAPI 3.1 document from the route schemas', async () => {
    const doc = (await app.inject('/openapi.json')).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/healthz', '/readyz', '/openapi.json']));
    expect(doc.paths['/readyz'].get.responses['503']).toBeDefined();
  });

  it('answers unknown routes with a google.rpc.Status 404', async () => {
    const res = await app.inject('/v1/nothing?x=1');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({
      code: 5,
      message: 'no route GET /v1/nothing',
      details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'NOT_FOUND', domain: 'cordon' }],
    });
  });

  it('never leaks a stack or an internal message', async () => {
    const res = await app.inject('/boom');
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual(internal());
    expect(res.body).not.toContain('secret internals');
    // …but the log has it, for the operator.
    expect(logLines.join('')).toContain('secret internals');
  });

  it('renders AppErrors in the documented shape, without the log-only detail', async () => {
    const res = await app.inject('/refuse');
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({
      code: 7,
      message: 'no_owner_remain',
      details: [
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: 'LAST_OWNER',
          domain: 'cordon',
          metadata: { user_id: 'U1' },
        },
      ],
    });
    expect(res.body).not.toContain('log-only');
  });

  it('answers 503 UNAVAILABLE with Retry-After when the database is away, and records no refusal for it', async () => {
    const { account, owner } = await createAccount(core.directory, testCtx, {
      name: 'A',
      owner: { email: 'o@a.example', display_name: 'O' },
    });
    const trail = async () => (await auditTrail(core, account.id)).map((e) => `${e.action} ${e.outcome}`);
    const before = await trail();
    // admin_shutdown (pg_ctl stop -m fast), a refused connection, and a socket that closed under the query.
    awayWith.push(
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      new Error('Connection terminated unexpectedly'),
    );
    for (let i = 0; i < 3; i++) {
      const res = await app.inject(`/t/accounts/${account.id}/users/${owner.id}`);
      expect([res.statusCode, res.headers['retry-after'], res.json()]).toEqual([
        503,
        '1',
        {
          code: 14,
          message: 'the database is unavailable; try again shortly',
          details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'UNAVAILABLE', domain: 'cordon' }],
        },
      ]);
    }
    // Not the caller's refusal: the call may even have committed before its answer was lost.
    expect(await trail()).toEqual(before);
  });

  it('rejects bad input with INVALID_ARGUMENT and strips undeclared response fields', async () => {
    const bad = await app.inject({ method: 'POST', url: '/echo', payload: { n: 0 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 3, details: [{ reason: 'INVALID_ARGUMENT' }] });
    expect(bad.json().message).toContain('body/n must be >= 1');

    const malformed = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"n":',
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json()).toMatchObject({ code: 3, details: [{ reason: 'INVALID_ARGUMENT' }] });

    const wrongType = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'text/csv' },
      payload: 'n\n1',
    });
    expect(wrongType.statusCode).toBe(415);
    expect(wrongType.json()).toMatchObject({ code: 3 });

    const huge = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/json' },
      payload: `{"n":1,"pad":"${'x'.repeat(1_100_000)}"}`,
    });
    expect(huge.statusCode).toBe(413);

    const ok = await app.inject({ method: 'POST', url: '/echo', payload: { n: 5 } });
    expect(ok.body).toBe('{"n":5}');
  });

  it('echoes a well-formed request id and replaces a malformed one', async () => {
    const given = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'req-123' } });
    expect(given.headers['x-request-id']).toBe('req-123');
    const replaced = await app.inject({ url: '/healthz', headers: { 'x-request-id': 'bad id\n with spaces' } });
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('keeps credentials out of the logs', async () => {
    await app.inject({
      url: '/healthz',
      headers: { authorization: 'Bearer super-secret-token-value', cookie: 'sid=cookie-secret' },
    });
    const logs = logLines.join('');
    expect(logs).toContain('/healthz');
    expect(logs).not.toContain('super-secret-token-value');
    expect(logs).not.toContain('cookie-secret');
  });

  it('refuses to register a route without a response schema', async () => {
    await expect(
      buildServer(core, {
        register: (r) => {
          r.get('/naked', async () => ({ secret: 'x' }));
        },
      }),
    ).rejects.toThrow('route GET /naked declares no response schema');
  });

  it('answers 503 from /readyz when the database is gone', async () => {
    const other = await createTestDatabase(backend);
    const doomed = await openTestCore(other);
    const server = await buildServer(doomed);
    await doomed.database.close();
    const res = await server.inject('/readyz');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({
      code: 14,
      message: 'the database does not answer',
      details: [{ reason: 'UNAVAILABLE' }],
    });
    expect(res.headers['retry-after']).toBe('1');
    await server.close();
    await other.drop();
  });
});

describe('TLS', () => {
  const tempFile = useTempDir('cordon-tls-');

  it('serves HTTPS from certificate and key files', async () => {
    const cert = tempFile('cert.pem');
    const key = tempFile('key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const database = await createTestDatabase(BACKENDS[0]!);
    const core = await openTestCore(database, {
      CORDON_TLS_CERT_FILE: cert,
      CORDON_TLS_KEY_FILE: key,
      CORDON_LISTEN: '0.0.0.0:0',
    });
    const app = await buildServer(core);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port, path: '/healthz', ca: readFileSync(cert) }, (res) => {
          let data = '';
          res.on('data', (c) => (data += c));
          res.on('end', () => resolve(data));
        })
        .on('error', reject);
    });
    expect(JSON.parse(body)).toEqual({ status: 'ok' });
    await app.close();
    await core.close();
    await database.drop();
  });
});
