/**
 * Leak reports (README, Leak reports): a code host posts the Cordon secrets it found in public code, signed
 * with its P-256 key set; each is labelled true_positive (live, issued by Cordon) or false_positive, and
 * the live ones are recorded in their account's log, never the secret itself, and contained (the built-in
 * leaked-secret playbook: see leak-containment.test.ts), so that a second report finds them dead.
 */
import { writeFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { beforeAll, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { SYSTEM_LOG } from '../../src/audit/entry.js';
import { createApp, rotateAppSecret } from '../../src/oauth/apps.js';
import { issueEventsToken, revokeEventsToken } from '../../src/oauth/events-tokens.js';
import { createSource, disableSignalSource } from '../../src/response/sources.js';
import { applyPlaybooks } from '../../src/response/playbooks.js';
import { makeSecret } from '../../src/secret-format.js';
import { revokeSession } from '../../src/store/sessions.js';
import { findLiveSessionByTokenHash } from '../../src/store/sessions.js';
import { hashSessionToken } from '../../src/auth/sign-in.js';
import { describeBackends } from '../support/backends.js';
import { auditTrail, captureLogs, mintSessionToken, rpc, seedAccount, testCtx } from '../support/fixtures.js';
import { keySetDocument, makeCodeHostKey, match, postReport, sha256Hex, signReport } from '../support/leak-reports.js';
import { useServer } from '../support/server.js';
import { useTempDir } from '../support/temp-dir.js';

const hostKey = makeCodeHostKey('github-key-1');
const strangerKey = makeCodeHostKey('github-key-1');
const lookAlike = (secret: string) => {
  const at = secret.length - 20;
  return secret.slice(0, at) + (secret[at] === 'a' ? 'b' : 'a') + secret.slice(at + 1);
};
const signatureError = (message: string) => rpc(16, `leak_report_signature: ${message}`, 'LEAK_REPORT_SIGNATURE');

describeBackends('leak reports', (backend) => {
  const file = useTempDir('cordon-leaks-')('keys.json');
  writeFileSync(file, keySetDocument([hostKey]));
  const logs = captureLogs();
  const suite = useServer(backend, { env: { CORDON_SECRET_SCANNING_KEYS: file }, logger: logs.logger });
  let core: Core;
  let server: FastifyInstance;
  let accountId: string;
  let appId: string;
  let clientSecret: string;
  const secrets: string[] = [];

  beforeAll(async () => {
    ({ core, server } = suite);
    accountId = (await seedAccount(core, 1)).accountId;
    const made = await createApp(core.directory, testCtx, accountId, { name: 'ci', permissions: ['audit:read'] });
    appId = made.app.id;
    clientSecret = made.clientSecret!;
    secrets.push(clientSecret);
  });

  const report = (tokens: string[]) =>
    postReport(
      server,
      tokens.map((token) => match(token)),
      { key: hostKey },
    );
  /** A new app's live client secret. */
  const freshSecret = async (name: string) =>
    (await createApp(core.directory, testCtx, accountId, { name, permissions: ['audit:read'] })).clientSecret!;
  /** A session, an HMAC source and an app's events token of the owner's account: live secrets of three kinds. */
  const liveSecrets = async (owner: { account_id: string; id: string }) => {
    const session = await mintSessionToken(core, owner);
    const hmac = await createSource(core.directory, testCtx, owner.account_id, {
      name: 'siem',
      format: 'canonical',
      auth: 'hmac',
    });
    const reader = await createApp(core.directory, testCtx, owner.account_id, {
      name: 'feed',
      permissions: ['audit:read'],
    });
    const eventsDeps = { ...core.directory, keys: core.keys, issuer: core.issuer };
    const events = await issueEventsToken(eventsDeps, testCtx, owner.account_id, reader.app.id, {});
    return { session, hmac, reader, events };
  };
  const labels = async (tokens: string[]) => {
    const res = await report(tokens);
    expect(res.statusCode, res.body).toBe(200);
    return res.json<Array<{ token_hash: string; token_type: string; label: string }>>().map((l) => l.label);
  };

  it('labels a leaked client secret true_positive, by its SHA-256, and records it in its account', async () => {
    const res = await report([clientSecret]);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual([
      { token_hash: sha256Hex(clientSecret), token_type: 'cordon_secret', label: 'true_positive' },
    ]);
    const entry = (await auditTrail(core, accountId)).find((e) => e.action === 'secret.leaked');
    expect(entry).toMatchObject({
      actor_type: 'source',
      actor_id: 'secret-scanning:github-key-1',
      target_type: 'app',
      target_id: appId,
      outcome: 'read',
      details: {
        token_hash: sha256Hex(clientSecret),
        kind: 'cs',
        token_type: 'cordon_secret',
        url: 'https://github.com/octo/app/blob/main/.env',
        source: 'content',
      },
    });
    const system = (await auditTrail(core, SYSTEM_LOG)).filter((e) => e.action === 'secret.leak_report');
    expect(system.at(-1)).toMatchObject({
      target_type: 'leak_report',
      details: { key_identifier: 'github-key-1', tokens: 1, true_positives: 1, accounts: 1 },
    });
  });

  it('labels every other kind of live secret true_positive, with its owner as the target', async () => {
    const owner = (await seedAccount(core, 0)).owner;
    const { session, hmac, reader, events } = await liveSecrets(owner);
    const urlToken = (
      await createSource(core.directory, testCtx, owner.account_id, {
        name: 'splunk',
        format: 'splunk',
        auth: 'url_token',
      })
    ).secret!;
    secrets.push(session, urlToken, hmac.secret!, events.token);
    expect(await labels([session, urlToken, hmac.secret!, events.token])).toEqual(Array(4).fill('true_positive'));
    const leaked = (await auditTrail(core, owner.account_id)).filter((e) => e.action === 'secret.leaked');
    expect(leaked.map((e) => [e.target_type, e.target_id, (e.details as { kind: string }).kind])).toEqual([
      ['user', owner.id, 'sess'],
      ['source', expect.any(String), 'st'],
      ['source', hmac.source.id, 'sh'],
      ['app', reader.app.id, 'et'],
    ]);
    // Each was contained as the report was answered: the session ended, the source credentials and the
    // events token replaced or revoked. Reported again, none is live.
    expect(await findLiveSessionByTokenHash(core.database.db, hashSessionToken(session))).toBeUndefined();
    expect(await labels([session, urlToken, hmac.secret!, events.token])).toEqual(Array(4).fill('false_positive'));
  });

  it('labels a secret revoked or disabled by hand false_positive', async () => {
    const owner = (await seedAccount(core, 0)).owner;
    // The account replaced the built-in playbook: leaks are only recorded, so what follows is by hand.
    await applyPlaybooks(core.directory, testCtx, owner.account_id, [
      { name: 'leaked-secret', match: { types: ['secret.leaked'] }, action: 'notify' },
    ]);
    const { session, hmac, reader, events } = await liveSecrets(owner);
    secrets.push(session, hmac.secret!, events.token);
    expect(await labels([session, hmac.secret!, events.token])).toEqual(Array(3).fill('true_positive'));
    expect(await labels([session, hmac.secret!, events.token])).toEqual(Array(3).fill('true_positive'));

    await revokeEventsToken(core.directory, testCtx, owner.account_id, reader.app.id, events.row.id);
    await disableSignalSource(core.directory, testCtx, owner.account_id, hmac.source.id);
    const row = await findLiveSessionByTokenHash(core.database.db, hashSessionToken(session));
    await revokeSession(core.database.db, owner.account_id, row!.id, 'test');
    expect(await labels([session, hmac.secret!, events.token])).toEqual(Array(3).fill('false_positive'));
  });

  it('labels a rotated secret, one never issued and a look-alike false_positive', async () => {
    const made = await createApp(core.directory, testCtx, accountId, { name: 'old', permissions: ['audit:read'] });
    await rotateAppSecret(core.directory, testCtx, accountId, made.app.id);
    secrets.push(made.clientSecret!);
    const never = makeSecret('cs');
    expect(await labels([made.clientSecret!, never, lookAlike(clientSecret), 'cordon_cs_short', 'hello'])).toEqual(
      Array(5).fill('false_positive'),
    );
  });

  it('refuses reports unsigned, forged, signed by an unknown key, or changed after signing', async () => {
    const body = JSON.stringify([match(clientSecret)]);
    const unsigned = await postReport(server, body);
    expect([unsigned.statusCode, unsigned.json()]).toEqual([
      401,
      signatureError('Github-Public-Key-Identifier and Github-Public-Key-Signature are required'),
    ]);
    const forged = await postReport(server, body, { key: hostKey, signature: signReport(strangerKey, body) });
    expect([forged.statusCode, forged.json()]).toEqual([
      401,
      signatureError('the signature does not verify over this body'),
    ]);
    const unknown = await postReport(server, body, { key: hostKey, keyId: 'github-key-9' });
    expect([unknown.statusCode, unknown.json()]).toEqual([
      401,
      signatureError('the key identifier is not in the key set'),
    ]);
    const changed = body.replace('content', 'commit');
    const altered = await postReport(server, changed, { key: hostKey, signature: signReport(hostKey, body) });
    expect([altered.statusCode, altered.json()]).toEqual([
      401,
      signatureError('the signature does not verify over this body'),
    ]);
    const garbage = await postReport(server, body, { key: hostKey, signature: '%%%' });
    expect(garbage.statusCode).toBe(401);
  });

  it('refuses a replayed report, and answers the same report signed anew', async () => {
    const secret = await freshSecret('replayed');
    secrets.push(secret);
    const body = JSON.stringify([match(secret, 'replayed')]);
    const signature = signReport(hostKey, body);
    const first = await postReport(server, body, { key: hostKey, signature });
    expect(first.statusCode, first.body).toBe(200);
    const replay = await postReport(server, body, { key: hostKey, signature });
    expect([replay.statusCode, replay.json()]).toEqual([
      409,
      rpc(
        6,
        'leak_report_replayed: this signed report was already received; send the report again with a new signature',
        'LEAK_REPORT_REPLAYED',
      ),
    ]);
    expect(first.json()).toEqual([{ token_hash: sha256Hex(secret), token_type: 'replayed', label: 'true_positive' }]);
    // Signed anew, it is answered afresh: the first report contained the secret, so it is no longer live.
    const again = await postReport(server, body, { key: hostKey });
    expect([again.statusCode, again.json()]).toEqual([
      200,
      [{ token_hash: sha256Hex(secret), token_type: 'replayed', label: 'false_positive' }],
    ]);
  });

  it('answers an empty report [], and refuses malformed ones with 400', async () => {
    const empty = await postReport(server, [], { key: hostKey });
    expect([empty.statusCode, empty.json()]).toEqual([200, []]);
    for (const body of ['{"token": 1', '{"token": "x"}', '[{"token": "x"}]', '[{"token": "", "type": "t"}]', '[1]']) {
      const res = await postReport(server, body, { key: hostKey });
      expect([res.statusCode, res.json().details[0].reason], body).toEqual([400, 'INVALID_ARGUMENT']);
    }
  });

  it('labels 10,000 tokens in one report, and refuses one more with 413', async () => {
    const tokens = Array.from({ length: 10_000 }, (_, i) => (i % 2 ? makeSecret('st') : lookAlike(makeSecret('cs'))));
    const secret = await freshSecret('in-a-crowd');
    secrets.push(secret);
    tokens[1234] = secret;
    const answer = await labels(tokens);
    expect(answer).toHaveLength(10_000);
    expect(answer.filter((l) => l === 'true_positive')).toHaveLength(1);
    expect(answer[1234]).toBe('true_positive');
    const over = await report([...tokens, makeSecret('st')]);
    expect([over.statusCode, over.json().details[0].reason]).toEqual([413, 'LEAK_REPORT_TOO_LARGE']);
  }, 60_000);

  it('writes no secret to a log line or an audit entry', async () => {
    await core.audit.settle();
    const text = [
      ...logs.lines,
      JSON.stringify(await auditTrail(core, accountId)),
      JSON.stringify(await auditTrail(core, SYSTEM_LOG)),
    ].join('\n');
    expect(secrets.length).toBeGreaterThanOrEqual(6);
    for (const secret of secrets) expect(text).not.toContain(secret);
  });
});
