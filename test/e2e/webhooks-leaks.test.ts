/**
 * Notifications of a leaked secret (README, Notifications): a signed leak report of an app's client secret
 * reaches the account's subscribers as `secret.leaked` and `containment.opened`, each naming the app and its
 * maker (whom a receiver routes it to), the secret's SHA-256, where it was found and what the containment
 * did; never the leaked secret, nor the new one the containment made (read once, through the API).
 */
import { writeFileSync } from 'node:fs';
import { sql } from 'kysely';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { createSource } from '../../src/response/sources.js';
import { describeBackends } from '../support/backends.js';
import { appAccessToken, mintSessionToken, seedAccount, testCtx, type SeededAccount } from '../support/fixtures.js';
import { keySetDocument, makeCodeHostKey, match, postReport, sha256Hex } from '../support/leak-reports.js';
import { useServer } from '../support/server.js';
import { useTempDir } from '../support/temp-dir.js';
import { startReceiver, type Receiver } from '../support/webhook-receiver.js';

const hostKey = makeCodeHostKey('github-key-1');

describeBackends('webhooks of leaked secrets', (backend) => {
  const file = useTempDir('cordon-leak-hooks-')('keys.json');
  writeFileSync(file, keySetDocument([hostKey]));
  const suite = useServer(backend, { env: { CORDON_SECRET_SCANNING_KEYS: file } });
  let core: Core;
  let seed: SeededAccount;
  let ownerToken: string;
  let adminToken: string;
  let receiver: Receiver;
  const secrets: Record<string, string> = {};

  const api = (token: string, method: 'GET' | 'POST', path: string, payload?: unknown) =>
    suite.server.inject({
      method,
      url: `/v1/accounts/${seed.accountId}${path}`,
      headers: { authorization: `Bearer ${token}` },
      ...(payload === undefined ? {} : { payload: payload as object }),
    });

  beforeAll(async () => {
    core = suite.core;
    receiver = await startReceiver();
    seed = await seedAccount(core, 0);
    ownerToken = await mintSessionToken(core, seed.owner);
    adminToken = await mintSessionToken(core, seed.admin);
    for (const format of ['standard', 'slack']) {
      const res = await api(ownerToken, 'POST', '/webhooks', {
        url: `${receiver.url}/${format}`,
        events: ['secret.leaked', 'containment.opened'],
        format,
      });
      expect(res.statusCode, res.body).toBe(201);
      secrets[format] = res.json<{ secret: string }>().secret;
    }
  });
  afterAll(async () => receiver?.close());

  it("reach the account's subscribers naming the app's maker, with no secret in any body", async () => {
    // The admin makes the app: its maker.
    const made = await api(adminToken, 'POST', '/apps', { name: 'deploy-bot', permissions: ['audit:read'] });
    expect(made.statusCode, made.body).toBe(201);
    const app = made.json<{ id: string; client_id: string; client_secret: string }>();
    const { id: appId, client_secret: clientSecret } = app;
    // A token it holds: the containment revokes it.
    await appAccessToken(suite.server, app.client_id, clientSecret);
    const answer = await postReport(suite.server, [match(clientSecret)], { key: hostKey });
    expect(answer.statusCode, answer.body).toBe(200);
    await core.audit.sequencer.drain();
    const received = await receiver.waitFor(4, 15_000);

    const { rows } = await sql<{ id: string }>`
      SELECT id FROM containments WHERE account_id = ${seed.accountId} AND subject_nhi->>'id' = ${appId}`.execute(
      core.database.db,
    );
    expect(rows).toHaveLength(1);
    const containmentId = rows[0]!.id;
    const standard = received
      .filter((r) => !r.body.includes('"blocks"'))
      .map((r) => new Webhook(secrets['standard']!).verify(r.body, r.headers as Record<string, string>))
      .sort((a, b) => String((a as { type: string }).type).localeCompare((b as { type: string }).type));
    const nhi = { type: 'app', id: appId, name: 'deploy-bot', token_hash: sha256Hex(clientSecret), kind: 'cs' };
    const maker = { user_id: seed.admin.id, email: 'admin@test.example', display_name: 'Admin' };
    const consoleUrl = `${core.issuer}/console/containments/${containmentId}`;
    expect(standard).toEqual([
      {
        type: 'containment.opened',
        timestamp: expect.any(String),
        data: expect.objectContaining({
          account_id: seed.accountId,
          containment_id: containmentId,
          nhi,
          maker,
          action: 'rotate_secret',
          leak: { url: 'https://github.com/octo/app/blob/main/.env', observed_at: expect.any(String) },
          revoked: { access_tokens: 1, events_tokens: 0, sessions: 0 },
          secret_replaced: true,
          console_url: consoleUrl,
        }),
      },
      {
        type: 'secret.leaked',
        timestamp: expect.any(String),
        data: expect.objectContaining({
          account_id: seed.accountId,
          containment_id: containmentId,
          nhi,
          maker,
          action: 'rotate_secret',
          leak: { url: 'https://github.com/octo/app/blob/main/.env', token_type: 'cordon_secret', source: 'content' },
          console_url: consoleUrl,
        }),
      },
    ]);
    expect(standard.some((m) => 'subject' in (m as { data: object }).data)).toBe(false);

    const slack = received.filter((r) => r.body.includes('"blocks"')).map((r) => JSON.parse(r.body) as object);
    expect(slack).toHaveLength(2);
    const slackText = JSON.stringify(slack);
    expect(slackText).toContain('Made by: Admin (admin@test.example)');
    expect(slackText).toContain("A leaked secret's app was contained: deploy-bot");
    expect(slackText).toContain('A Cordon secret was found in public: deploy-bot');

    // The new secret, read once by the owner: in no body sent, nor in any message kept.
    const read = await api(ownerToken, 'POST', `/containments/${containmentId}:read-secret`);
    expect(read.statusCode, read.body).toBe(200);
    const newSecret = read.json<{ secret: string }>().secret;
    expect(newSecret).toMatch(/^cordon_cs_/);
    const kept = await sql<{ payload: string; slack_payload: string | null }>`
      SELECT payload::text, slack_payload::text FROM webhook_messages WHERE account_id = ${seed.accountId}`.execute(
      core.database.db,
    );
    const everything = [...received.map((r) => r.body), ...kept.rows.map((r) => `${r.payload}${r.slack_payload}`)];
    expect(everything.join('\n')).toContain(sha256Hex(clientSecret));
    for (const secret of [clientSecret, newSecret]) expect(everything.join('\n')).not.toContain(secret);
  });

  it("name a source by its name and a session by its person, with no maker, and hold neither's secret", async () => {
    receiver.received.length = 0;
    const session = await mintSessionToken(core, seed.admin);
    const { source, secret: urlToken } = await createSource(core.response, testCtx, seed.accountId, {
      name: 'splunk',
      format: 'splunk',
      auth: 'url_token',
    });
    const answer = await postReport(suite.server, [match(session), match(urlToken!)], { key: hostKey });
    expect(answer.statusCode, answer.body).toBe(200);
    await core.audit.sequencer.drain();
    const received = await receiver.waitFor(8, 15_000);
    const leaked = received
      .filter((r) => !r.body.includes('"blocks"'))
      .map((r) => JSON.parse(r.body) as { type: string; data: Record<string, unknown> })
      .filter((m) => m.type === 'secret.leaked')
      .map((m) => m.data);
    expect(leaked.map((d) => d['nhi'])).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          type: 'session',
          token_hash: sha256Hex(session),
          kind: 'sess',
          user: { user_id: seed.admin.id, email: 'admin@test.example', display_name: 'Admin' },
        }),
        { type: 'source', id: source.id, name: 'splunk', token_hash: sha256Hex(urlToken!), kind: 'st' },
      ]),
    );
    expect(leaked.some((d) => 'maker' in d)).toBe(false);
    const bodies = received.map((r) => r.body).join('\n');
    for (const secret of [session, urlToken!]) expect(bodies).not.toContain(secret);
  });
});
