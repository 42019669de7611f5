import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { createUser } from '../../src/directory/users.js';
import { createApp } from '../../src/oauth/apps.js';
import { applyPlaybooks } from '../../src/response/playbooks.js';
import { createSource, signBody } from '../../src/response/sources.js';
import type { SignalFormat, SourceAuth } from '../../src/storage/schema.js';
import { describeBackends } from '../support/backends.js';
import { useServer } from '../support/server.js';
import {
  appAccessToken,
  auditTrail,
  mintSessionToken,
  seedAccount,
  testCtx,
  type SeededAccount,
} from '../support/fixtures.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/signals/${name}.json`, import.meta.url), 'utf8');
const expected = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/signals/${name}.expected.json`, import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;
const errorBody = (code: number, message: string, reason: string, metadata?: Record<string, string>) => ({
  code,
  message,
  details: [
    {
      '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      reason,
      domain: 'cordon',
      ...(metadata ? { metadata } : {}),
    },
  ],
});
/** The people the fixtures name, by the email each fixture resolves to. */
const FIXTURE_PEOPLE = [
  'ada.lovelace',
  'grace.hopper',
  'mwilson',
  'emmy.noether',
  'alan.turing',
  'k.johnson',
  'l.meitner',
];

describeBackends('signal intake', (backend) => {
  let core: Core;
  let server: FastifyInstance;
  let seed: SeededAccount;
  let adminToken: string;
  let ownerToken: string;
  let appToken: string;
  let onlySignalsToken: string;
  const sources: Partial<Record<string, { id: string; secret?: string }>> = {};
  const people: Record<string, string> = {};

  const tables = async () => {
    const row = await sql<{ signals: string; plans: string; suspended: string }>`
      SELECT (SELECT count(*) FROM signals) AS signals, (SELECT count(*) FROM plans) AS plans,
             (SELECT count(*) FROM users WHERE state = 'SUSPENDED') AS suspended`.execute(core.database.db);
    return row.rows[0]!;
  };
  const post = (url: string, body: string, headers: Record<string, string> = {}) =>
    server.inject({ method: 'POST', url, payload: body, headers: { 'content-type': 'application/json', ...headers } });
  const signed = (source: string, body: string, timestamp = String(Math.floor(Date.now() / 1000))) => ({
    'x-cordon-timestamp': timestamp,
    'x-cordon-signature': signBody(sources[source]!.secret!, timestamp, body),
  });
  const sourceUrl = (name: string, query = '') =>
    `/v1/accounts/${seed.accountId}/sources/${sources[name]!.id}/signals${query}`;

  const suite = useServer(backend, { env: { CORDON_OAUTH_RATE_PER_CLIENT: '0', CORDON_OAUTH_RATE_PER_ADDRESS: '0' } });

  beforeAll(async () => {
    ({ core, server } = suite);
    seed = await seedAccount(core, 2);
    for (const name of FIXTURE_PEOPLE) {
      const email = name === 'emmy.noether' || name === 'mwilson' ? `${name}@example.com` : `${name}@example.com`;
      people[name] = (await createUser(core.directory, testCtx, seed.accountId, { email, display_name: name })).id;
    }
    const detector = await createApp(core.directory, testCtx, seed.accountId, {
      name: 'siem',
      permissions: ['signals:write'],
    });
    const make = async (name: string, format: SignalFormat, auth: SourceAuth) => {
      const { source, secret } = await createSource(core.response, testCtx, seed.accountId, {
        name,
        format,
        auth,
        ...(auth === 'oauth' ? { client_id: detector.app.client_id } : {}),
      });
      sources[name] = { id: source.id, ...(secret ? { secret } : {}) };
    };
    await make('ocsf', 'ocsf', 'hmac');
    await make('kibana', 'ecs', 'oauth');
    await make('splunk', 'splunk', 'url_token');
    await make('azure', 'azure', 'hmac');
    await applyPlaybooks(core.response, testCtx, seed.accountId, [
      {
        name: 'contain-high',
        priority: 10,
        match: { min_severity: 'high', min_confidence: 0.5 },
        action: 'suspend',
        mode: 'auto',
      },
      { name: 'watch-the-rest', priority: 1, match: { min_severity: 'info' }, action: 'notify' },
    ]);
    adminToken = await mintSessionToken(core, seed.admin);
    ownerToken = await mintSessionToken(core, seed.owner);
    onlySignalsToken = await appAccessToken(server, detector.app.client_id, detector.clientSecret!);
    const other = await createApp(core.directory, testCtx, seed.accountId, {
      name: 'other-siem',
      permissions: ['signals:write'],
    });
    appToken = await appAccessToken(server, other.app.client_id, other.clientSecret!);
  });

  const cases: Array<{ fixture: string; source: string; person: string; status: string }> = [
    { fixture: 'ocsf-2004-impossible-travel', source: 'ocsf', person: 'ada.lovelace', status: 'executed' },
    { fixture: 'ecs-kibana-credential-access', source: 'kibana', person: 'grace.hopper', status: 'executed' },
    { fixture: 'splunk-webhook-brute-force', source: 'splunk', person: 'mwilson', status: 'executed' },
    { fixture: 'azure-common-log-alert', source: 'azure', person: 'alan.turing', status: 'executed' },
  ];
  it.each(cases)(
    '$fixture: the canonical signal, the plan and the suspension',
    async ({ fixture: name, source, person, status }) => {
      const body = fixture(name);
      const headers: Record<string, string> =
        source === 'kibana'
          ? { authorization: `Bearer ${onlySignalsToken}` }
          : source === 'splunk'
            ? {}
            : signed(source, body);
      const query = source === 'splunk' ? `?token=${sources.splunk!.secret}` : '';
      const res = await post(sourceUrl(source, query), body, headers);
      expect(res.statusCode, res.body).toBe(200);
      const { signal, plan, duplicate } = res.json();
      const want = expected(name);
      expect(duplicate).toBe(false);
      expect({ ...signal, id: undefined, receive_time: undefined }).toEqual({
        ...want,
        id: undefined,
        receive_time: undefined,
        source_id: sources[source]!.id,
        raw_truncated: false,
        // the expected files were made with a fixed `now`; only a fixture without a time would differ
      });
      expect(plan).toMatchObject({
        signal_id: signal.id,
        subject_user_id: people[person],
        playbook: { name: 'contain-high', version: 1 },
        status,
        action: 'suspend',
      });
      expect(plan.verdicts.map((v: { step: string }) => v.step)).toEqual([
        'resolve-subject',
        'match-playbook',
        'kill-switch',
        'protected-principals',
        'dedup-window',
        'blast-radius',
        'approval',
        'execute',
        'verify',
      ]);
      expect(res.headers['server-timing']).toMatch(/resolve-subject;dur=/);
      const profile = await server.inject({
        method: 'GET',
        url: `/v1/accounts/${seed.accountId}/users/${people[person]}/profile`,
        headers: { authorization: `Bearer ${adminToken}` },
      });
      expect(profile.json().state).toBe('SUSPENDED');
      // The suspension's entry names the responder, the signal, the playbook version and the verdicts.
      const trail = await auditTrail(core, seed.accountId);
      const suspension = trail.find((e) => e.action === 'user.suspend' && e.target_id === people[person])!;
      expect(suspension).toMatchObject({ actor_type: 'responder', actor_id: 'cordon', outcome: 'changed' });
      expect(suspension.cause).toMatchObject({
        signal_id: signal.id,
        plan_id: plan.id,
        playbook: 'contain-high',
        playbook_version: 1,
        policy_version: 0,
      });
      expect((suspension.cause as { verdicts: unknown }).verdicts).toEqual({
        'resolve-subject': 'pass',
        'match-playbook': 'pass',
        'kill-switch': 'pass',
        'protected-principals': 'pass',
        'dedup-window': 'pass',
        'blast-radius': 'pass',
        approval: 'pass',
      });
      // The plan's own entry carries every verdict in full.
      const planEntry = trail.find((e) => e.action === 'plan.create' && e.target_id === plan.id)!;
      expect((planEntry.details as { verdicts: unknown }).verdicts).toEqual(plan.verdicts);
      const receipt = trail.find((e) => e.action === 'signal.receive' && e.target_id === signal.id)!;
      expect(receipt).toMatchObject({ actor_type: source === 'kibana' ? 'app' : 'source', outcome: 'changed' });
    },
  );

  it(
    'canonical signals from an app: an unresolved subject ' + 'is stored and answered as such, with no action',
    async () => {
      const res = await post(`/v1/accounts/${seed.accountId}/signals`, fixture('canonical-minimal'), {
        authorization: `Bearer ${appToken}`,
      });
      expect(res.statusCode, res.body).toBe(200);
      const { signal, plan } = res.json();
      expect(signal).toMatchObject({ external_id: 'hunt-7731', subject: {} });
      expect(signal.source_id).toMatch(/^app:/);
      expect(plan).toMatchObject({
        status: 'no_action',
        subject_user_id: null,
        playbook: null,
        verdicts: [{ step: 'resolve-subject', outcome: 'stop', reason: 'the signal names no user' }],
      });
    },
  );

  it('a large payload is kept cut and marked, its canonical fields whole', async () => {
    const alert = JSON.parse(fixture('ecs-kibana-credential-access')) as Record<string, unknown>;
    const big = JSON.stringify({
      ...alert,
      'kibana.alert.uuid': 'large-alert-1',
      'event.original': 'x'.repeat(200_000),
    });
    const res = await post(sourceUrl('kibana'), big, { authorization: `Bearer ${onlySignalsToken}` });
    expect(res.statusCode, res.body).toBe(200);
    const { signal } = res.json();
    expect(signal).toMatchObject({
      external_id: 'large-alert-1',
      raw_truncated: true,
      subject: expected('ecs-kibana-credential-access').subject,
    });
    const row = await core.database.db
      .selectFrom('signals')
      .select(['raw', 'raw_truncated'])
      .where('id', '=', signal.id)
      .executeTakeFirstOrThrow();
    const head = (row.raw as { truncated_head: string }).truncated_head;
    expect(Buffer.byteLength(head)).toBeLessThanOrEqual(65_536);
    expect(big.startsWith(head.slice(0, 1000))).toBe(true);
  });

  it('a duplicate external id is answered with the first signal and plan, and changes nothing', async () => {
    const body = fixture('splunk-webhook-upn');
    const first = await post(sourceUrl('splunk', `?token=${sources.splunk!.secret}`), body);
    expect(first.json().plan.status).toBe('executed');
    const before = await tables();
    const again = await post(sourceUrl('splunk', `?token=${sources.splunk!.secret}`), body);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({
      duplicate: true,
      signal: { id: first.json().signal.id },
      plan: { id: first.json().plan.id },
    });
    expect(await tables()).toEqual(before);
  });

  describe('refusals leave nothing behind but their audit entry (when the caller authenticated)', () => {
    const body = () => fixture('azure-common-sentinel-style');
    const refusals: Array<[string, () => Promise<{ statusCode: number; json(): unknown }>, number, unknown]> = [
      [
        'unsigned',
        () => post(sourceUrl('azure'), body()),
        401,
        errorBody(
          16,
          'source_auth_failed: X-Cordon-Timestamp and X-Cordon-Signature are required',
          'SOURCE_AUTH_FAILED',
          { source_id: '' },
        ),
      ],
      [
        'badly signed',
        () =>
          post(sourceUrl('azure'), body(), {
            ...signed('azure', body()),
            'x-cordon-signature': `v1=${'0'.repeat(64)}`,
          }),
        401,
        errorBody(16, 'source_auth_failed: the signature does not match', 'SOURCE_AUTH_FAILED', { source_id: '' }),
      ],
      [
        'signed over another body',
        () => post(sourceUrl('azure'), body().replace('Sev0', 'Sev4'), signed('azure', body())),
        401,
        errorBody(16, 'source_auth_failed: the signature does not match', 'SOURCE_AUTH_FAILED', { source_id: '' }),
      ],
      [
        'stale',
        () => post(sourceUrl('azure'), body(), signed('azure', body(), String(Math.floor(Date.now() / 1000) - 301))),
        401,
        errorBody(16, 'source_auth_failed: the timestamp is more than 300 s from now', 'SOURCE_AUTH_FAILED', {
          source_id: '',
        }),
      ],
      [
        'signed with the wrong scheme',
        () => post(sourceUrl('azure'), body(), { ...signed('azure', body()), 'x-cordon-signature': 'sha256=abc' }),
        401,
        errorBody(16, 'source_auth_failed: X-Cordon-Signature must be v1=<64 hex digits>', 'SOURCE_AUTH_FAILED', {
          source_id: '',
        }),
      ],
      [
        'a wrong URL token',
        () => post(sourceUrl('splunk', '?token=cdnt_guess'), fixture('splunk-webhook-brute-force')),
        401,
        errorBody(16, 'source_auth_failed: the URL token is missing or wrong', 'SOURCE_AUTH_FAILED', { source_id: '' }),
      ],
      [
        'no URL token',
        () => post(sourceUrl('splunk'), fixture('splunk-webhook-brute-force')),
        401,
        errorBody(16, 'source_auth_failed: the URL token is missing or wrong', 'SOURCE_AUTH_FAILED', { source_id: '' }),
      ],
      [
        'malformed JSON',
        () => post(sourceUrl('azure'), '{"schemaId":', signed('azure', '{"schemaId":')),
        400,
        errorBody(3, 'invalid_signal: body must be a JSON document', 'INVALID_SIGNAL', { field: 'body' }),
      ],
      [
        'another format',
        () =>
          post(
            sourceUrl('azure'),
            fixture('ocsf-2004-impossible-travel'),
            signed('azure', fixture('ocsf-2004-impossible-travel')),
          ),
        400,
        undefined,
      ],
      [
        'a resolve',
        () => {
          const b = body().replace('"Fired"', '"Resolved"');
          return post(sourceUrl('azure'), b, signed('azure', b));
        },
        400,
        undefined,
      ],
      [
        'oversized',
        () => {
          const b = JSON.stringify({ pad: 'x'.repeat(1024 * 1024) });
          return post(sourceUrl('azure'), b, signed('azure', b));
        },
        413,
        undefined,
      ],
      [
        'an unknown source',
        () => post(`/v1/accounts/${seed.accountId}/sources/${'A'.repeat(26)}/signals`, body()),
        404,
        errorBody(5, 'signal source not found', 'SOURCE_NOT_FOUND', { source_id: 'A'.repeat(26) }),
      ],
      [
        'an app token on an hmac source',
        () => post(sourceUrl('azure'), body(), { authorization: `Bearer ${appToken}` }),
        401,
        undefined,
      ],
      [
        'another app on a bound oauth source',
        () =>
          post(sourceUrl('kibana'), fixture('ecs-kibana-credential-access'), { authorization: `Bearer ${appToken}` }),
        403,
        errorBody(7, 'this source takes signals from another app', 'PERMISSION_DENIED'),
      ],
    ];
    it.each(refusals)('%s', async (_name, send, status, body) => {
      const before = await tables();
      const entriesBefore = (await auditTrail(core, seed.accountId)).length;
      const res = await send();
      expect(res.statusCode).toBe(status);
      if (body) {
        const want = body as { details: Array<{ metadata?: Record<string, string> }> };
        if (want.details[0]!.metadata?.source_id === '')
          want.details[0]!.metadata.source_id =
            sources[status === 401 && _name.includes('URL') ? 'splunk' : 'azure']!.id;
        expect(res.json()).toEqual(want);
      }
      expect(await tables()).toEqual(before);
      const trail = await auditTrail(core, seed.accountId);
      // Only a caller that proved itself (the source's secret, an app's token) writes to the account's
      // log; the others are tallied in the system log.
      const authenticated = status !== 401 && status !== 404 && status !== 413;
      expect(trail.slice(entriesBefore)).toEqual(
        authenticated
          ? [expect.objectContaining({ action: 'signal.receive', outcome: 'refused', target_type: 'source' })]
          : [],
      );
    });

    it('a replayed signed request is refused', async () => {
      const b = body();
      const headers = signed('azure', b);
      const first = await post(sourceUrl('azure'), b, headers);
      expect(first.statusCode).toBe(200);
      const before = await tables();
      const replay = await post(sourceUrl('azure'), b, headers);
      expect(replay.statusCode).toBe(401);
      expect(replay.json()).toEqual(
        errorBody(16, 'source_auth_failed: this signed request was already received (replay)', 'SOURCE_AUTH_FAILED', {
          source_id: sources.azure!.id,
        }),
      );
      expect(await tables()).toEqual(before);
    });
  });

  it('a detection source can never act on a user, by any route', async () => {
    const target = seed.members[0]!.id;
    const users = `/v1/accounts/${seed.accountId}/users/${target}`;
    // An app holding signals:write only: no Users API permission.
    for (const verb of [':suspend', ':reactivate']) {
      const res = await server.inject({
        method: 'POST',
        url: `${users}${verb}`,
        headers: { authorization: `Bearer ${onlySignalsToken}` },
      });
      expect(res.statusCode).toBe(403);
    }
    // A webhook secret or URL token is no credential anywhere else.
    for (const secret of [sources.ocsf!.secret!, sources.splunk!.secret!]) {
      for (const [method, url] of [
        ['POST', `${users}:suspend`],
        ['DELETE', users],
        ['PATCH', users],
        ['POST', `/v1/accounts/${seed.accountId}/automation:pause`],
        ['POST', `/v1/accounts/${seed.accountId}/playbooks:apply`],
      ] as const) {
        const res = await server.inject({
          method,
          url,
          headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
          payload: '{}',
        });
        expect([401, 403], `${method} ${url}`).toContain(res.statusCode);
      }
    }
    // Nor can a signal: the subject of a signal is suspended by the responder, never by the source's principal.
    const trail = await auditTrail(core, seed.accountId);
    for (const e of trail.filter((x) => x.action === 'user.suspend' && x.outcome === 'changed'))
      expect(e.actor_type).not.toMatch(/^(source|app)$/);
    const profile = await server.inject({
      method: 'GET',
      url: `${users}/profile`,
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(profile.json().state).toBe('ACTIVE');
  });

  it('no secret reaches a signal, a plan or an audit entry', async () => {
    const dump = JSON.stringify([
      await core.database.db.selectFrom('signals').selectAll().execute(),
      await core.database.db.selectFrom('plans').selectAll().execute(),
      await auditTrail(core, seed.accountId),
    ]);
    for (const s of Object.values(sources)) if (s?.secret) expect(dump).not.toContain(s.secret);
  });

  describe('playbooks, policy and the guards over HTTP', () => {
    const api = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown, token = adminToken) =>
      server.inject({
        method,
        url: `/v1/accounts/${seed.accountId}${url}`,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
      });
    const canonical = (externalId: string, email: string, extra: Record<string, unknown> = {}) =>
      post(
        `/v1/accounts/${seed.accountId}/signals`,
        JSON.stringify({
          external_id: externalId,
          type: 'idp.risky_sign_in',
          severity: 'critical',
          confidence: 0.95,
          subject: { email },
          ...extra,
        }),
        { authorization: `Bearer ${appToken}` },
      );

    it('an invalid playbook is refused whole, with every problem named; the schema is published', async () => {
      const res = await api('POST', '/playbooks:apply', {
        playbooks: [
          { name: 'ok-one', match: {}, action: 'notify' },
          { name: 'Bad Name', match: { min_severity: 'severe' }, action: 'suspend' },
        ],
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual(
        errorBody(
          3,
          'invalid_playbook: playbook #2: /name must match pattern "^[a-z0-9][a-z0-9-]{0,62}$"; /match/min_severity ' +
            'must be one of "info", "low", "medium", "high", "critical"',
          'INVALID_PLAYBOOK',
        ),
      );
      expect((await api('GET', '/playbooks')).json().playbooks.map((p: { name: string }) => p.name)).not.toContain(
        'ok-one',
      );
      const schema = await server.inject({ method: 'GET', url: '/v1/schemas/playbook.json' });
      expect(schema.json()).toMatchObject({ title: 'Playbook', required: ['name', 'match', 'action'] });
      // People only, and OWNER or ADMIN: an app's token is refused (403: it did authenticate, as an app).
      const byApp = await api('GET', '/playbooks', undefined, appToken);
      expect([byApp.statusCode, byApp.json().details[0].reason]).toEqual([403, 'SESSION_REQUIRED']);
    });

    it(
      'the highest priority wins and is recorded; approval mode ' +
        'waits with the action digest; the kill switch holds auto plans',
      async () => {
        const applied = await api('POST', '/playbooks:apply', {
          playbooks: [
            {
              name: 'risky-approval',
              priority: 300,
              match: { types: ['idp.risky_sign_in'] },
              action: 'suspend',
              mode: 'approval',
              approvals: 2,
            },
            { name: 'risky-auto', priority: 250, match: { types: ['idp.risky_*'] }, action: 'suspend', mode: 'auto' },
          ],
        });
        expect(applied.statusCode, applied.body).toBe(200);
        const pending = (await canonical('risk-1', 'm0@test.example')).json().plan;
        expect(pending).toMatchObject({
          status: 'pending_approval',
          approvals_required: 2,
          playbook: { name: 'risky-approval', version: 1 },
          action_digest: expect.stringMatching(/^[0-9a-f]{64}$/),
        });
        expect(pending.verdicts.find((v: { step: string }) => v.step === 'match-playbook').details.candidates).toEqual([
          'risky-approval',
          'risky-auto',
          'contain-high',
          'watch-the-rest',
        ]);
        expect((await api('GET', `/plans/${pending.id}`)).json()).toEqual(pending);

        // Lower the approval playbook under the auto one; pause: the auto plan waits too, and says why.
        await api('POST', '/playbooks:apply', {
          playbooks: [
            {
              name: 'risky-approval',
              priority: 1,
              match: { types: ['idp.risky_sign_in'] },
              action: 'suspend',
              mode: 'approval',
              approvals: 2,
            },
          ],
        });
        expect((await api('POST', '/automation:pause', { reason: 'drill' })).json()).toMatchObject({
          paused: true,
          pause_reason: 'drill',
        });
        const held = (await canonical('risk-2', 'm1@test.example')).json().plan;
        expect(held).toMatchObject({ status: 'pending_approval', playbook: { name: 'risky-auto' } });
        expect(held.verdicts.find((v: { step: string }) => v.step === 'kill-switch')).toMatchObject({
          outcome: 'hold',
          details: { pause_reason: 'drill' },
        });
        expect((await api('POST', '/automation:resume', null)).json().paused).toBe(false);
        const trail = await auditTrail(core, seed.accountId);
        expect(
          trail
            .filter((e) => e.action.startsWith('automation.') && e.outcome === 'changed')
            .map((e) => [e.action, e.actor_id]),
        ).toEqual([
          ['automation.pause', seed.admin.id],
          ['automation.resume', seed.admin.id],
        ]);
      },
    );

    it('a protected principal gets a refused plan that records what it would have done', async () => {
      const policy = await api(
        'PUT',
        '/protection-policy',
        { emails: ['m1@test.example'], roles: ['ADMIN'] },
        ownerToken,
      );
      expect(policy.json()).toMatchObject({ version: 1, changed: true });
      const refused = (await canonical('risk-3', 'admin@test.example')).json().plan;
      expect(refused).toMatchObject({ status: 'refused', policy_version: 1 });
      expect(refused.verdicts.at(-1)).toEqual({
        step: 'protected-principals',
        outcome: 'stop',
        // The playbook was applied by an ADMIN, so it would not reach an ADMIN under any policy either.
        reason: 'the subject is protected (role:ADMIN, playbook_author:not_an_owner): would have suspended',
        details: {
          policy_version: 1,
          reasons: ['role:ADMIN', 'playbook_author:not_an_owner'],
          would_have: 'suspend',
          user_id: seed.admin.id,
        },
      });
      const entry = (await auditTrail(core, seed.accountId)).find(
        (e) => e.action === 'plan.create' && e.target_id === refused.id,
      )!;
      expect(entry.details).toMatchObject({ status: 'refused', subject_user_id: seed.admin.id, policy_version: 1 });
      // Even the owner, the only one, is protected without any policy saying so.
      const owner = (await canonical('risk-4', 'owner@test.example')).json().plan;
      expect(owner.verdicts.at(-1).details.reasons).toContain('last_owner');
    });

    it('a dry run over HTTP answers the normalised signal and the plan, and writes nothing', async () => {
      const before = await tables();
      const entries = (await auditTrail(core, seed.accountId)).length;
      const res = await api('POST', '/signals:plan', {
        format: 'ocsf',
        signal: JSON.parse(fixture('ocsf-2004-no-user')),
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({
        duplicate: false,
        signal: { source_id: 'dry-run', ...expected('ocsf-2004-no-user') },
        plan: expect.objectContaining({
          id: null,
          status: 'no_action',
          verdicts: [
            { step: 'resolve-subject', outcome: 'stop', reason: 'the signal names no user', details: { hints: [] } },
          ],
        }),
      });
      expect(await tables()).toEqual(before);
      expect((await auditTrail(core, seed.accountId)).length).toBe(entries);
    });

    it("a source's default confidence applies to its alerts that carry none, in the dry run too", async () => {
      const res = await api('POST', '/sources', {
        name: 'splunk-sure',
        format: 'splunk',
        auth: 'url_token',
        default_confidence: 0.9,
      });
      expect(res.statusCode, res.body).toBe(200);
      const { source, secret } = res.json();
      expect(source).toMatchObject({
        default_confidence: 0.9,
        url: `http://127.0.0.1:8080/v1/accounts/${seed.accountId}/sources/${source.id}/signals`,
      });
      const listed = (await api('GET', '/sources')).json().sources;
      expect(listed.find((s: { name: string }) => s.name === 'splunk')).toMatchObject({ default_confidence: 0.5 });
      const entry = (await auditTrail(core, seed.accountId)).find(
        (e) => e.action === 'source.create' && e.target_id === source.id,
      )!;
      expect(entry.details).toMatchObject({ default_confidence: 0.9 });
      // The brute-force row has neither confidence nor risk_score; the UPN row says 92.
      const dry = await api('POST', '/signals:plan', {
        format: 'splunk',
        source_id: source.id,
        signal: JSON.parse(fixture('splunk-webhook-brute-force')),
      });
      expect(dry.json().signal).toMatchObject({ source_id: source.id, confidence: 0.9 });
      const url = `/v1/accounts/${seed.accountId}/sources/${source.id}/signals?token=${secret}`;
      const without = await post(url, fixture('splunk-webhook-brute-force'));
      expect(without.json().signal).toMatchObject({ source_id: source.id, confidence: 0.9 });
      const stated = await post(url, fixture('splunk-webhook-upn'));
      expect(stated.json().signal).toMatchObject({ confidence: 0.92 });
      const wrong = await api('POST', '/sources', {
        name: 'x',
        format: 'azure',
        auth: 'url_token',
        default_confidence: 2,
      });
      expect(wrong.statusCode).toBe(400);
    });
  });
});
