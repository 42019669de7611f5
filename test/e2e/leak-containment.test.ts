/**
 * Issue 19 §3 and §4: a leaked Cordon secret, reported by a code host (or by a `secret.leaked` signal), is
 * contained in the report's own request: by default the built-in leaked-secret playbook rotates it, the
 * app's tokens from before are refused, a containment record says what was revoked and where the leak
 * was, the new secret is read once by an OWNER or ADMIN, and a restore gives the app a new secret, never
 * the leaked one.
 */
import { writeFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { createApp } from '../../src/oauth/apps.js';
import { issueEventsToken } from '../../src/oauth/events-tokens.js';
import { issueAccessToken } from '../../src/oauth/tokens.js';
import { applyPlaybooks } from '../../src/response/playbooks.js';
import { createSource } from '../../src/response/sources.js';
import { findAppById } from '../../src/store/apps.js';
import { describeBackends } from '../support/backends.js';
import {
  appAccessToken,
  auditTrail,
  captureLogs,
  mintSessionToken,
  seedAccount,
  testCtx,
} from '../support/fixtures.js';
import { keySetDocument, makeCodeHostKey, match, postReport, sha256Hex } from '../support/leak-reports.js';
import { useServer } from '../support/server.js';
import { useTempDir } from '../support/temp-dir.js';

const hostKey = makeCodeHostKey('github-key-1');
const LEAK_URL = 'https://github.com/octo/app/blob/main/.env';
type ContainmentJson = { id: string; plan_id: string } & Record<string, unknown>;
const jtiOf = (token: string) =>
  (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { jti: string }).jti;

describeBackends('leak containment', (backend) => {
  const file = useTempDir('cordon-leak-containment-')('keys.json');
  writeFileSync(file, keySetDocument([hostKey]));
  const logs = captureLogs();
  const suite = useServer(backend, { env: { CORDON_SECRET_SCANNING_KEYS: file }, logger: logs.logger });
  let core: Core;
  let server: FastifyInstance;

  beforeAll(() => {
    ({ core, server } = suite);
  });

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const report = async (tokens: string[]) => {
    const res = await postReport(
      server,
      tokens.map((token) => match(token)),
      { key: hostKey },
    );
    expect(res.statusCode, res.body).toBe(200);
    return res.json<Array<{ label: string }>>().map((l) => l.label);
  };
  const tokenStatus = async (clientId: string, secret: string) =>
    (
      await server.inject({
        method: 'POST',
        url: '/v1/oauth/token',
        headers: {
          authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        payload: 'grant_type=client_credentials',
      })
    ).statusCode;
  const listUsers = async (accountId: string, token: string) =>
    (await server.inject({ url: `/v1beta1/accounts/${accountId}/users`, headers: bearer(token) })).statusCode;
  const api = async (method: 'GET' | 'POST' | 'PUT', url: string, token: string, body?: unknown) =>
    server.inject({
      method,
      url: `/v1/accounts${url}`,
      headers: bearer(token),
      ...(body === undefined ? {} : { payload: body as object }),
    });
  /** An account with an OWNER's session and an app holding users:list, with two tokens. */
  const world = async () => {
    const seed = await seedAccount(core, 1);
    const ownerToken = await mintSessionToken(core, seed.owner);
    const made = await createApp(core.directory, testCtx, seed.accountId, {
      name: 'sync',
      permissions: ['users:list'],
    });
    const tokens = [
      await appAccessToken(server, made.app.client_id, made.clientSecret!),
      await appAccessToken(server, made.app.client_id, made.clientSecret!),
    ];
    return { seed, accountId: seed.accountId, ownerToken, app: made.app, secret: made.clientSecret!, tokens };
  };
  const containmentsOf = async (accountId: string, ownerToken: string) =>
    (await api('GET', `/${accountId}/containments`, ownerToken)).json<{ containments: ContainmentJson[] }>()
      .containments;

  it('rotates a reported client secret at once: refused at the token endpoint, tokens from before 401', async () => {
    const w = await world();
    // A token whose issue was never recorded (signed, say, just as the containment ran): refused by its iat.
    const unrecorded = await issueAccessToken(core.keys, {
      issuer: core.issuer,
      app: (await findAppById(core.database.db, w.accountId, w.app.id))!,
      scope: ['users:list'],
      ttl: 900,
      jkt: undefined,
    });
    for (const token of [...w.tokens, unrecorded.accessToken]) expect(await listUsers(w.accountId, token)).toBe(200);

    expect(await report([w.secret])).toEqual(['true_positive']);

    expect(await tokenStatus(w.app.client_id, w.secret)).toBe(401);
    for (const token of [...w.tokens, unrecorded.accessToken]) expect(await listUsers(w.accountId, token)).toBe(401);
    const [record] = await containmentsOf(w.accountId, w.ownerToken);
    expect(record).toMatchObject({
      user_id: null,
      subject_nhi: { type: 'app', id: w.app.id, token_hash: sha256Hex(w.secret), kind: 'cs' },
      action: 'rotate_secret',
      status: 'open',
      snapshot: null,
      new_secret_waiting: true,
      details: {
        leak: { url: LEAK_URL, report: expect.stringMatching(/^[0-9a-f]{64}$/) },
        revoked: { access_tokens: { count: 2, jtis: w.tokens.map(jtiOf).sort() } },
        secret_replaced: true,
        disabled: false,
        app_changes_before: { count: 0 },
      },
    });
    // The plan: the built-in playbook, auto mode, every guard's verdict, executed and verified.
    const plan = (await api('GET', `/${w.accountId}/plans/${record!.plan_id}/decisions`, w.ownerToken)).json().plan;
    expect(plan).toMatchObject({
      status: 'executed',
      action: 'rotate_secret',
      playbook: { name: 'leaked-secret', version: 0 },
      subject_user_id: null,
      subject_nhi: { type: 'app', id: w.app.id },
    });
    expect(plan.verdicts.map((v: { step: string; outcome: string }) => `${v.step}:${v.outcome}`)).toEqual([
      'resolve-subject:pass',
      'match-playbook:pass',
      'kill-switch:pass',
      'protected-principals:pass',
      'dedup-window:pass',
      'blast-radius:pass',
      'approval:pass',
      'execute:pass',
      'verify:pass',
    ]);
    const trail = await auditTrail(core, w.accountId);
    const actions = trail.map((e) => e.action);
    for (const action of [
      'secret.leaked',
      'signal.receive',
      'app.secret.rotate',
      'app.tokens.revoke',
      'containment.open',
    ])
      expect(actions).toContain(action);
    expect(trail.find((e) => e.action === 'app.tokens.revoke')).toMatchObject({
      actor_type: 'responder',
      target_id: w.app.id,
      details: { count: 2, jtis: w.tokens.map(jtiOf).sort(), containment_id: record!.id },
      cause: { signal_type: 'secret.leaked', playbook: 'leaked-secret', plan_id: plan.id },
    });

    // The new secret: read once by the OWNER, it works; a second read finds nothing.
    const read = await api('POST', `/${w.accountId}/containments/${record!.id}:read-secret`, w.ownerToken);
    expect(read.statusCode, read.body).toBe(200);
    expect(read.headers['cache-control']).toBe('no-store');
    const fresh = read.json<{ secret: string }>().secret;
    expect(fresh).toMatch(/^cordon_cs_/);
    expect(await tokenStatus(w.app.client_id, fresh)).toBe(200);
    const again = await api('POST', `/${w.accountId}/containments/${record!.id}:read-secret`, w.ownerToken);
    expect([again.statusCode, again.json().details[0].reason]).toEqual([404, 'SECRET_ALREADY_READ']);
    // Neither secret is in a log line or an audit entry.
    await core.audit.settle();
    const text = JSON.stringify(await auditTrail(core, w.accountId)) + logs.lines.join('\n');
    for (const secret of [w.secret, fresh]) expect(text).not.toContain(secret);

    // Restored: a new secret again, the record closed; the leaked secret never works again.
    const restored = await api('POST', `/${w.accountId}/containments/${record!.id}:restore`, w.ownerToken, {});
    expect(restored.statusCode, restored.body).toBe(200);
    expect(restored.json()).toMatchObject({
      status: 'restored',
      verification: { leaked_secret_dead: true },
      containment: { status: 'closed', close_reason: 'restored', new_secret_waiting: true },
    });
    const next = (await api('POST', `/${w.accountId}/containments/${record!.id}:read-secret`, w.ownerToken)).json()
      .secret as string;
    expect([await tokenStatus(w.app.client_id, w.secret), await tokenStatus(w.app.client_id, fresh)]).toEqual([
      401, 401,
    ]);
    expect(await tokenStatus(w.app.client_id, next)).toBe(200);
    expect(await report([w.secret, fresh])).toEqual(['false_positive', 'false_positive']);
  });

  it('disables the app under a disable_app playbook; a restore enables it with a new secret only', async () => {
    const w = await world();
    await applyPlaybooks(core.directory, testCtx, w.accountId, [
      { name: 'leaked-secret', match: { types: ['secret.leaked'] }, action: 'disable_app', mode: 'auto' },
    ]);
    const events = await issueEventsToken(
      { ...core.directory, keys: core.keys, issuer: core.issuer },
      testCtx,
      w.accountId,
      w.app.id,
      {
        features: ['auditevents'],
      },
    ).catch(() => undefined);
    expect(await report([w.secret])).toEqual(['true_positive']);
    const app = await findAppById(core.database.db, w.accountId, w.app.id);
    expect(app?.disabled_at).not.toBeNull();
    for (const token of w.tokens) expect(await listUsers(w.accountId, token)).toBe(401);
    const [record] = await containmentsOf(w.accountId, w.ownerToken);
    expect(record).toMatchObject({
      action: 'disable_app',
      new_secret_waiting: false,
      details: { disabled: true, secret_replaced: false, revoked: { access_tokens: { count: 2 } } },
    });
    expect(events).toBeUndefined(); // the app holds no audit:read: no events token to revoke
    const restored = await api('POST', `/${w.accountId}/containments/${record!.id}:restore`, w.ownerToken, {});
    expect(restored.json()).toMatchObject({ status: 'restored', verification: { leaked_secret_dead: true } });
    expect((await findAppById(core.database.db, w.accountId, w.app.id))?.disabled_at).toBeNull();
    const next = (await api('POST', `/${w.accountId}/containments/${record!.id}:read-secret`, w.ownerToken)).json()
      .secret as string;
    expect(await tokenStatus(w.app.client_id, w.secret)).toBe(401);
    expect(await tokenStatus(w.app.client_id, next)).toBe(200);
    // The tokens from before stay dead after the app is enabled again.
    for (const token of w.tokens) expect(await listUsers(w.accountId, token)).toBe(401);
  });

  it('waits for a person under an approval-mode playbook, then rotates on the approval', async () => {
    const w = await world();
    await applyPlaybooks(core.directory, testCtx, w.accountId, [
      { name: 'leaked-secret', match: { types: ['secret.leaked'] }, action: 'rotate_secret', mode: 'approval' },
    ]);
    expect(await report([w.secret])).toEqual(['true_positive']);
    expect(await tokenStatus(w.app.client_id, w.secret)).toBe(200);
    const [plan] = (await api('GET', `/${w.accountId}/approvals`, w.ownerToken)).json().plans;
    expect(plan).toMatchObject({ action: 'rotate_secret', status: 'pending_approval', subject_nhi: { id: w.app.id } });
    const approved = await api('POST', `/${w.accountId}/plans/${plan.id}:approve`, w.ownerToken, {
      reason: 'public on GitHub',
      action_digest: plan.action_digest,
    });
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json().plan.status).toBe('executed');
    expect(await tokenStatus(w.app.client_id, w.secret)).toBe(401);
    for (const token of w.tokens) expect(await listUsers(w.accountId, token)).toBe(401);
    // Undone as a false positive: the signal is marked so, the app gets a new secret, the leaked one stays dead.
    const [record] = await containmentsOf(w.accountId, w.ownerToken);
    const undone = await api('POST', `/${w.accountId}/containments/${record!.id}:restore`, w.ownerToken, {
      reason: 'false_positive',
    });
    expect(undone.json()).toMatchObject({ status: 'restored', containment: { close_reason: 'false_positive' } });
    const marked = await sql<{ at: Date | null }>`SELECT false_positive_at AS at FROM signals
      WHERE account_id = ${w.accountId} AND id = ${plan.signal_id as string}`.execute(core.database.db);
    expect(marked.rows[0]?.at).toBeInstanceOf(Date);
    expect(await tokenStatus(w.app.client_id, w.secret)).toBe(401);
  });

  it('restores under the two-person rule: the second person executes it, and the app gets a new secret', async () => {
    const w = await world();
    const adminToken = await mintSessionToken(core, w.seed.admin);
    const policy = await api('PUT', `/${w.accountId}/automation/restore-policy`, w.ownerToken, {
      restore_approvals: 2,
      approver_group_id: null,
    });
    expect(policy.statusCode, policy.body).toBe(200);
    expect(await report([w.secret])).toEqual(['true_positive']);
    const [record] = await containmentsOf(w.accountId, w.ownerToken);
    const asked = await api('POST', `/${w.accountId}/containments/${record!.id}:restore`, w.ownerToken, {});
    expect(asked.json()).toMatchObject({ status: 'pending_approval', containment: { status: 'open' } });
    const plan = asked.json().plan as { id: string; action_digest: string; subject_nhi: unknown };
    expect(plan.subject_nhi).toMatchObject({ type: 'app', id: w.app.id });
    const approved = await api('POST', `/${w.accountId}/plans/${plan.id}:approve`, adminToken, {
      reason: 'rotated and reviewed',
      action_digest: plan.action_digest,
    });
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json().plan.status).toBe('executed');
    const after = (await api('GET', `/${w.accountId}/containments/${record!.id}`, w.ownerToken)).json();
    expect(after).toMatchObject({ status: 'closed', close_reason: 'restored', new_secret_waiting: true });
    // An app an OWNER (or the operator) made shows its new secret to an OWNER only; a refusal takes nothing.
    const secretOf = (token: string) => api('POST', `/${w.accountId}/containments/${record!.id}:read-secret`, token);
    const refused = await secretOf(adminToken);
    expect([refused.statusCode, refused.json().details[0].reason]).toEqual([403, 'PERMISSION_DENIED']);
    const read = await secretOf(w.ownerToken);
    expect(read.statusCode, read.body).toBe(200);
    const next = read.json<{ secret: string }>().secret;
    expect([await tokenStatus(w.app.client_id, w.secret), await tokenStatus(w.app.client_id, next)]).toEqual([
      401, 200,
    ]);
  });

  it('replaces a leaked events token with one like it, made as it is read; the client secret stays', async () => {
    const w = await world();
    const reader = await createApp(core.directory, testCtx, w.accountId, { name: 'feed', permissions: ['audit:read'] });
    const deps = { ...core.directory, keys: core.keys, issuer: core.issuer };
    const leaked = await issueEventsToken(deps, testCtx, w.accountId, reader.app.id, {
      features: ['auditevents'],
      audience: 'events.test.example',
    });
    const introspect = async (token: string) =>
      server.inject({ url: '/api/v2/auth/introspect', headers: bearer(token) });
    expect((await introspect(leaked.token)).statusCode).toBe(200);
    expect(await report([leaked.token])).toEqual(['true_positive']);
    expect((await introspect(leaked.token)).statusCode).toBe(401);
    const record = (await containmentsOf(w.accountId, w.ownerToken)).find(
      (c) => (c.subject_nhi as { id: string }).id === reader.app.id,
    )!;
    expect(record).toMatchObject({
      action: 'rotate_secret',
      subject_nhi: { kind: 'et', credential: { type: 'events_token', id: leaked.row.id } },
      new_secret_waiting: true,
      details: { revoked: { events_tokens: { count: 1, ids: [leaked.row.id] } }, secret_replaced: true },
    });
    const read = await api('POST', `/${w.accountId}/containments/${record.id}:read-secret`, w.ownerToken);
    expect(read.statusCode, read.body).toBe(200);
    const fresh = read.json<{ secret: string }>().secret;
    const claims = JSON.parse(Buffer.from(fresh.split('.')[1]!, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    expect(claims).toMatchObject({ aud: ['events.test.example'], '1password.com/fts': ['auditevents'] });
    expect((await introspect(fresh)).json()).toMatchObject({ features: ['auditevents'] });
    const again = await api('POST', `/${w.accountId}/containments/${record.id}:read-secret`, w.ownerToken);
    expect([again.statusCode, again.json().details[0].reason]).toEqual([404, 'SECRET_ALREADY_READ']);
    // The app's client secret never leaked: it works, before and after the record's restore.
    expect(await tokenStatus(reader.app.client_id, reader.clientSecret!)).toBe(200);
    const restored = await api('POST', `/${w.accountId}/containments/${record.id}:restore`, w.ownerToken, {});
    expect(restored.json()).toMatchObject({ status: 'restored', verification: { leaked_secret_dead: true } });
    expect(await tokenStatus(reader.app.client_id, reader.clientSecret!)).toBe(200);
    expect((await introspect(leaked.token)).statusCode).toBe(401);
  });

  describe('secret.leaked signals', () => {
    const postSignal = (accountId: string, token: string, hash: string, externalId = `scan-${hash.slice(0, 8)}`) =>
      server.inject({
        method: 'POST',
        url: `/v1/accounts/${accountId}/signals`,
        headers: bearer(token),
        payload: {
          external_id: externalId,
          type: 'secret.leaked',
          subject: {},
          secret: { sha256: hash, url: LEAK_URL },
        },
      });

    it("contains the account's own secret named by its hash, never another account's", async () => {
      const w = await world();
      const other = await world();
      const scanner = await createApp(core.directory, testCtx, other.accountId, {
        name: 'scanner',
        permissions: ['signals:write'],
      });
      const scannerToken = await appAccessToken(server, scanner.app.client_id, scanner.clientSecret!);
      const across = await postSignal(other.accountId, scannerToken, sha256Hex(w.secret));
      expect(across.statusCode, across.body).toBe(200);
      expect(across.json().plan).toMatchObject({ status: 'no_action', subject_nhi: null });
      expect(await tokenStatus(w.app.client_id, w.secret)).toBe(200);

      const own = await postSignal(other.accountId, scannerToken, sha256Hex(other.secret));
      expect(own.json().plan).toMatchObject({ status: 'executed', action: 'rotate_secret' });
      expect(await tokenStatus(other.app.client_id, other.secret)).toBe(401);
    });

    it('rotates a source token, and a second signal about it finds nothing live', async () => {
      const w = await world();
      const source = await createSource(core.directory, testCtx, w.accountId, {
        name: 'splunk',
        format: 'splunk',
        auth: 'url_token',
      });
      const scanner = await createApp(core.directory, testCtx, w.accountId, {
        name: 's',
        permissions: ['signals:write'],
      });
      const scannerToken = await appAccessToken(server, scanner.app.client_id, scanner.clientSecret!);
      const first = await postSignal(w.accountId, scannerToken, sha256Hex(source.secret!));
      expect(first.json().plan).toMatchObject({ status: 'executed', subject_nhi: { type: 'source', kind: 'st' } });
      const again = await postSignal(w.accountId, scannerToken, sha256Hex(source.secret!), 'scan-again');
      expect(again.json().plan).toMatchObject({ status: 'no_action', subject_nhi: null });
      const signal = await server.inject({
        method: 'POST',
        url: `/v1/accounts/${w.accountId}/sources/${source.source.id}/signals?token=${source.secret!}`,
        payload: { result: { user: 'nobody' }, search_name: 'x', sid: 'y' },
      });
      expect(signal.statusCode).toBe(401);
    });
  });
});
