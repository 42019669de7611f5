/**
 * A leaked client secret through the CLI (README, `cordon explain`; Leak reports): once a code host reports
 * it, `cordon explain` shows the report, where the secret was found, the built-in playbook, and what was
 * revoked (the jtis of the tokens issued before the report), from the containment, its plan or its signal;
 * `cordon containments list|show` name the app instead of a user; `cordon containments secret ID` prints
 * the new secret once (then exit 3), and the new secret works where the old one gets 401.
 */
import { writeFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { Core } from '../../src/core.js';
import { buildServer } from '../../src/http/server.js';
import { createApp } from '../../src/oauth/apps.js';
import { createCliAccount, describeBackends, openTestCore, type TestDatabase } from '../support/backends.js';
import { runCli } from '../support/cli.js';
import { appAccessToken, auditTrail, testCtx } from '../support/fixtures.js';
import { keySetDocument, makeCodeHostKey, match, postReport, sha256Hex } from '../support/leak-reports.js';
import { useTempDir } from '../support/temp-dir.js';

vi.setConfig({ testTimeout: 180_000 });

const hostKey = makeCodeHostKey('github-key-1');
const LEAK_URL = 'https://github.com/octo/deploy/blob/main/.env';
const OTHER_URL = 'https://github.com/octo/nightly/blob/main/ci.yml';

/** The jti of an access token (a JWT). */
const jtiOf = (token: string) =>
  (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { jti: string }).jti;

const tokenStatus = async (server: FastifyInstance, clientId: string, secret: string) =>
  (
    await server.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: {
        authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      payload: 'grant_type=client_credentials',
    })
  ).statusCode;

interface Leaked {
  clientId: string;
  secret: string;
  containmentId: string;
  planId: string;
}

describeBackends('cordon explain and containments of a leaked client secret', (backend) => {
  const keys = useTempDir('cordon-cli-leaks-')('keys.json');
  writeFileSync(keys, keySetDocument([hostKey]));
  let database: TestDatabase;
  let env: Record<string, string>;
  let accountId: string;
  let adaId: string;
  let reportHash: string;
  let jtis: string[];
  let tokens: string[];
  const leaked: Record<'deploy' | 'nightly', Leaked> = {} as never;

  /** A core and server that take leak reports, for `fn`, closed after it (the CLI opens the data itself). */
  const withServer = async <T>(fn: (core: Core, server: FastifyInstance) => Promise<T>): Promise<T> => {
    const core = await openTestCore(database, { CORDON_SECRET_SCANNING_KEYS: keys });
    const server = await buildServer(core);
    try {
      return await fn(core, server);
    } finally {
      await server.close();
      await core.close();
    }
  };

  beforeAll(async () => {
    ({ database, env, accountId } = await createCliAccount(backend, 'ada@acme.example'));
    await withServer(async (core, server) => {
      const made = async (name: string) =>
        createApp(core.directory, testCtx, accountId, { name, permissions: ['users:list', 'users:suspend'] });
      const deploy = await made('ci-deploy');
      const nightly = await made('nightly');
      // Two live tokens of the app before the leak, and a change it made with one of them.
      tokens = [
        await appAccessToken(server, deploy.app.client_id, deploy.clientSecret!, '/oauth/token'),
        await appAccessToken(server, deploy.app.client_id, deploy.clientSecret!, '/oauth/token'),
      ];
      jtis = tokens.map(jtiOf).sort();
      const users = `/v1/accounts/${accountId}/users`;
      const auth = { authorization: `Bearer ${tokens[0]}` };
      const list = await server.inject({ method: 'GET', url: `${users}?maxPageSize=100`, headers: auth });
      expect(list.statusCode, list.body).toBe(200);
      adaId = list
        .json<{ results: Array<{ id: string; email: string }> }>()
        .results.find((u) => u.email === 'ada@acme.example')!.id;
      const suspended = await server.inject({ method: 'POST', url: `${users}/${adaId}:suspend`, headers: auth });
      expect(suspended.statusCode, suspended.body).toBe(200);

      const res = await postReport(
        server,
        [
          { ...match(deploy.clientSecret!), url: LEAK_URL },
          { ...match(nightly.clientSecret!), url: OTHER_URL },
        ],
        { key: hostKey },
      );
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json<Array<{ label: string }>>().map((l) => l.label)).toEqual(['true_positive', 'true_positive']);
      const trail = await auditTrail(core, accountId);
      reportHash = (trail.find((e) => e.action === 'secret.leaked')!.details as { report: string }).report;
      for (const [key, app] of [
        ['deploy', deploy],
        ['nightly', nightly],
      ] as const) {
        const opened = trail.find(
          (e) =>
            e.action === 'containment.open' && (e.details as { subject: { id: string } }).subject.id === app.app.id,
        )!;
        leaked[key] = {
          clientId: app.app.client_id,
          secret: app.clientSecret!,
          containmentId: opened.target_id,
          planId: (opened.cause as { plan_id: string }).plan_id,
        };
      }
    });
  });
  afterAll(() => database?.drop());

  it('explain shows the report, the URL, the playbook and the jtis revoked: by containment, plan, signal', async () => {
    const { containmentId, planId } = leaked.deploy;
    const res = await runCli(['explain', containmentId, '--json'], env);
    expect(res.code, res.stderr).toBe(0);
    const chain = JSON.parse(res.stdout);
    expect(chain).toMatchObject({
      kind: 'containment',
      verified: true,
      signal: { type: 'secret.leaked', source_id: 'secret-scanning:github-key-1' },
      playbook: { name: 'leaked-secret', version: 0, content_hash: expect.stringMatching(/^[0-9a-f]{64}$/) },
      plan: { id: planId, action: 'rotate_secret', status: 'executed', subject_user_id: null },
      action: { action: 'containment.open', target_type: 'containment', target_id: containmentId },
      outcome: { plan_status: 'executed', user_id: null, containment: { id: containmentId, status: 'open' } },
      nhi: {
        subject: { type: 'app', token_hash: sha256Hex(leaked.deploy.secret), kind: 'cs' },
        owner: { name: 'ci-deploy', client_id: leaked.deploy.clientId, disabled: false },
        action: 'rotate_secret',
        leak: { report: reportHash, url: LEAK_URL, token_type: 'cordon_secret' },
        contained: {
          revoked: {
            access_tokens: { count: 2, jtis },
            events_tokens: { count: 0, ids: [] },
            sessions: { count: 0, ids: [] },
          },
          disabled: false,
          secret_replaced: true,
          new_secret_waiting: true,
          app_changes_before: { count: 1, listed: [{ action: 'user.suspend', target: { type: 'user', id: adaId } }] },
        },
      },
    });
    expect(reportHash).toMatch(/^[0-9a-f]{64}$/);
    expect(chain.proof.entry).toEqual(chain.action);
    // The same chain from the plan and from the signal.
    for (const [id, kind] of [
      [planId, 'plan'],
      [chain.signal.id as string, 'signal'],
    ] as const) {
      const other = await runCli(['explain', id, '--json'], env);
      expect(other.code, other.stderr).toBe(0);
      expect(JSON.parse(other.stdout)).toMatchObject({
        kind,
        verified: true,
        action: { idx: chain.action.idx },
        nhi: { leak: { url: LEAK_URL }, contained: { revoked: { access_tokens: { jtis } } } },
      });
    }

    // For a person: the app by name, the leak, what was revoked, the app's change with Ada by name.
    const text = await runCli(['explain', containmentId], env);
    expect([text.code, text.stderr]).toEqual([0, '']);
    const lines = text.stdout.split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^playbook {3}leaked-secret v0 \(built in, sha256 [0-9a-f]{64}\)$/),
        'subject    app ci-deploy',
        `leak       found at ${LEAK_URL}, observed ${chain.nhi.leak.observed_at} (cordon_secret)`,
        `report     sha256 ${reportHash}`,
        'contained  rotate_secret; secret replaced: yes; disabled: no',
        `revoked    2 access tokens: jti ${jtis.join(', ')}`,
        '           0 events tokens',
        '           0 sessions',
        `new secret waits to be read once: cordon containments secret ${containmentId}`,
        expect.stringMatching(/^before {5}1 change by the app in the hour before the leak \(since \S+\)$/),
        expect.stringMatching(/^ {2}change {3}\S+ user\.suspend Ada <ada@acme\.example>$/),
        `outcome    plan executed; app ci-deploy; containment ${containmentId} open`,
        expect.stringMatching(/^audit {6}#\d+ containment\.open changed — proven: /),
      ]),
    );
    expect(text.stdout).not.toContain('user -');
  });

  it('containments list and show name the app, its action, the leak URL and what was revoked', async () => {
    const { containmentId } = leaked.deploy;
    const list = await runCli(['containments', 'list'], env);
    expect([list.code, list.stderr]).toEqual([0, '']);
    const row = list.stdout.split('\n').find((l) => l.includes(containmentId))!;
    expect(row).toMatch(/app ci-deploy.*rotate_secret.*responder:cordon/);
    expect(row).toContain(LEAK_URL);
    expect(row).toContain('2 access tokens');
    expect(list.stdout.split('\n').find((l) => l.includes(leaked.nightly.containmentId))).toMatch(
      /app nightly.*rotate_secret.*nothing/,
    );
    const json = JSON.parse((await runCli(['containments', 'list', '--json'], env)).stdout);
    expect(json.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          id: containmentId,
          user_id: null,
          subject_nhi: expect.objectContaining({ type: 'app' }),
        }),
      ]),
    );

    const shown = await runCli(['containments', 'show', containmentId], env);
    expect([shown.code, shown.stderr]).toEqual([0, '']);
    expect(shown.stdout).toContain(`containment    ${containmentId} open\nsubject        app ci-deploy\n`);
    expect(shown.stdout).toContain(`leak           found at ${LEAK_URL}`);
    expect(shown.stdout).toContain(`report         sha256 ${reportHash}\n`);
    expect(shown.stdout).toContain(`revoked        2 access tokens: jti ${jtis.join(', ')}\n`);
    expect(shown.stdout).toMatch(/\n {2}change {7}\S+ user\.suspend Ada <ada@acme\.example>\n/);
    expect(shown.stdout).not.toMatch(/^user/m);
  });

  it('containments secret prints the new secret once; it works and the leaked one gets 401', async () => {
    const { containmentId, clientId, secret: old } = leaked.deploy;
    const first = await runCli(['containments', 'secret', containmentId], env);
    expect([first.code, first.stderr]).toEqual([0, '']);
    const shown = /^New client secret of app ci-deploy: (\S+)\nStore it now: it is shown once/.exec(first.stdout);
    expect(shown, first.stdout).not.toBeNull();
    const fresh = shown![1]!;
    expect(fresh).not.toBe(old);

    const again = await runCli(['containments', 'secret', containmentId], env);
    expect(again.code).toBe(3);
    expect(again.stdout).toBe('');
    expect(again.stderr).toContain('[SECRET_ALREADY_READ]');
    expect((await runCli(['containments', 'secret', containmentId, '--json'], env)).code).toBe(3);

    // --json: the API's answer, for the other app of the report.
    const json = await runCli(['containments', 'secret', leaked.nightly.containmentId, '--json'], env);
    expect(json.code, json.stderr).toBe(0);
    const read = JSON.parse(json.stdout);
    expect(read).toEqual({
      containment_id: leaked.nightly.containmentId,
      subject: expect.objectContaining({ type: 'app', kind: 'cs' }),
      secret: expect.stringMatching(/^cordon_cs_/),
    });

    // Read, the record no longer keeps it.
    const after = JSON.parse((await runCli(['explain', containmentId, '--json'], env)).stdout);
    expect(after.nhi.contained.new_secret_waiting).toBe(false);

    await withServer(async (_core, server) => {
      expect(await tokenStatus(server, clientId, fresh)).toBe(200);
      expect(await tokenStatus(server, clientId, old)).toBe(401);
      expect(await tokenStatus(server, leaked.nightly.clientId, read.secret)).toBe(200);
      expect(await tokenStatus(server, leaked.nightly.clientId, leaked.nightly.secret)).toBe(401);
      // The tokens issued before the report are refused.
      for (const token of tokens) {
        const res = await server.inject({
          method: 'GET',
          url: `/v1/accounts/${accountId}/users`,
          headers: { authorization: `Bearer ${token}` },
        });
        expect(res.statusCode).toBe(401);
      }
    });
  });
});
