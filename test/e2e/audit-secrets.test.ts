import type { FastifyInstance } from 'fastify';
import { beforeAll, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { exportLog } from '../../src/audit/export.js';
import { timeStep, totpCode } from '../../src/directory/totp.js';
import { base32Decode } from '../../src/base32.js';
import { createAccount } from '../../src/directory/accounts.js';
import { SYSTEM_LOG } from '../../src/audit/entry.js';
import { parseSecret, SECRET_PATTERN } from '../../src/secret-format.js';
import { describeBackends } from '../support/backends.js';
import { useServer } from '../support/server.js';
import { captureLogs, testCtx } from '../support/fixtures.js';
import { fakeTarget } from '../support/fake-target.js';
import { keySetDocument, makeCodeHostKey, match, postReport } from '../support/leak-reports.js';
import { useTempDir } from '../support/temp-dir.js';
import { writeFileSync } from 'node:fs';

const hostKey = makeCodeHostKey('sweep-key');

/**
 * Every path that handles a secret so far (sign-in, sessions, credential resets, app secrets and
 * their rotation, tokens, introspection, revocation, key rotation, a leak report's containment and the
 * new secrets read from its record, target credentials and their rotation), then the whole audit log exported
 * and the logs read: none of the secrets may appear.
 */
describeBackends('no secret reaches the audit log or the logs', (backend) => {
  let core: Core;
  let server: FastifyInstance;
  const { logger, lines } = captureLogs();
  const keys = useTempDir('cordon-sweep-keys-')('keys.json');
  writeFileSync(keys, keySetDocument([hostKey]));
  const suite = useServer(backend, { logger, env: { CORDON_SECRET_SCANNING_KEYS: keys } });

  beforeAll(() => {
    ({ core, server } = suite);
  });

  it('keeps passwords, TOTP seeds and codes, session tokens, client secrets and access tokens out', async () => {
    const secrets: string[] = [];
    const { account, owner, ownerCredentials } = await createAccount(core.directory, testCtx, {
      name: 'S',
      owner: { email: 'o@s.example', display_name: 'O' },
    });
    secrets.push(ownerCredentials.password, ownerCredentials.totpSecret);
    const code = totpCode(base32Decode(ownerCredentials.totpSecret), timeStep(Date.now() / 1000));
    const wrong = await server.inject({
      method: 'POST',
      url: '/v1/auth/sessions',
      payload: { email: owner.email, password: 'Wrong-Password-123', totp: '000001' },
    });
    expect(wrong.statusCode).toBe(401);
    secrets.push('Wrong-Password-123');
    const signedIn = (
      await server.inject({
        method: 'POST',
        url: '/v1/auth/sessions',
        payload: { email: owner.email, password: ownerCredentials.password, totp: code },
      })
    ).json();
    const session = { authorization: `Bearer ${signedIn.session_token}` };
    secrets.push(signedIn.session_token);
    // The generated password must be replaced before anything else; neither may reach a log.
    const changed = await server.inject({
      method: 'POST',
      url: '/v1/auth/password',
      headers: session,
      payload: { current_password: ownerCredentials.password, new_password: 'Owner-Chosen-Password-1' },
    });
    expect(changed.statusCode).toBe(200);
    secrets.push('Owner-Chosen-Password-1');

    const app = (
      await server.inject({
        method: 'POST',
        url: `/v1/accounts/${account.id}/apps`,
        headers: session,
        payload: { name: 'soar', permissions: ['users:read', 'audit:read'] },
      })
    ).json();
    const rotated = (
      await server.inject({
        method: 'POST',
        url: `/v1/accounts/${account.id}/apps/${app.id}:rotateSecret`,
        headers: session,
      })
    ).json();
    secrets.push(app.client_secret, rotated.client_secret);
    // An events token, used on the feed, listed and revoked: its signature part is what makes it a secret.
    const eventsTokens = `/v1/accounts/${account.id}/apps/${app.id}/events-tokens`;
    const events = (await server.inject({ method: 'POST', url: eventsTokens, headers: session, payload: {} })).json();
    const feed = await server.inject({
      method: 'POST',
      url: '/api/v2/auditevents',
      headers: { authorization: `Bearer ${events.token}` },
      payload: '{"limit":10}',
    });
    expect(feed.statusCode).toBe(200);
    expect((await server.inject({ url: eventsTokens, headers: session })).body).not.toContain(events.token);
    await server.inject({ method: 'POST', url: `${eventsTokens}/${events.id}:revoke`, headers: session });
    secrets.push(events.token, (events.token as string).split('.')[2]!);
    const basic = `Basic ${Buffer.from(`${app.client_id}:${rotated.client_secret}`).toString('base64')}`;
    const form = { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' };
    const badSecret = await server.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: {
        ...form,
        authorization: `Basic ${Buffer.from(`${app.client_id}:guessed-secret-value`).toString('base64')}`,
      },
      payload: 'grant_type=client_credentials',
    });
    expect(badSecret.statusCode).toBe(401);
    secrets.push('guessed-secret-value');
    const token = (
      await server.inject({
        method: 'POST',
        url: '/v1/oauth/token',
        headers: form,
        payload: 'grant_type=client_credentials',
      })
    ).json().access_token as string;
    secrets.push(token);
    expect(
      (
        await server.inject({ method: 'POST', url: '/oauth/introspect', headers: form, payload: `token=${token}` })
      ).json().active,
    ).toBe(true);
    // The Users API and directory administration, as the app and as the person: both audit every call.
    expect(
      (
        await server.inject({
          url: `/v1/accounts/${account.id}/users/${owner.id}`,
          headers: { authorization: `Bearer ${token}` },
        })
      ).statusCode,
    ).toBe(200);
    expect(
      (
        await server.inject({
          method: 'POST',
          url: `/v1/accounts/${account.id}/users`,
          headers: session,
          payload: { email: 'new@s.example', display_name: 'New' },
        })
      ).statusCode,
    ).toBe(200);
    expect(
      (await server.inject({ method: 'POST', url: '/oauth/revoke', headers: form, payload: `token=${token}` }))
        .statusCode,
    ).toBe(200);

    // A leak report of the client secret: contained (rotated), the new secret read once, then restored with
    // another, read once too.
    const leak = await postReport(server, [match(rotated.client_secret as string)], { key: hostKey });
    expect(leak.json()).toMatchObject([{ label: 'true_positive' }]);
    const containments = `/v1/accounts/${account.id}/containments`;
    const [record] = (await server.inject({ url: containments, headers: session })).json().containments;
    const readSecret = async () => {
      const read = await server.inject({
        method: 'POST',
        url: `${containments}/${record.id}:read-secret`,
        headers: session,
      });
      expect(read.statusCode, read.body).toBe(200);
      secrets.push(read.json().secret);
    };
    await readSecret();
    const restored = await server.inject({
      method: 'POST',
      url: `${containments}/${record.id}:restore`,
      headers: session,
      payload: {},
    });
    expect(restored.statusCode, restored.body).toBe(200);
    await readSecret();

    // A target's credentials, given at creation and at rotation (a connector kind of the test's own).
    const restoreKind = fakeTarget().install('scim');
    try {
      const targets = `/v1/accounts/${account.id}/targets`;
      const created = await server.inject({
        method: 'POST',
        url: targets,
        headers: session,
        payload: {
          name: 'hr',
          kind: 'scim',
          config: { base_url: 'https://hr.example' },
          credentials: { token: 'target-token-first' },
        },
      });
      expect(created.statusCode).toBe(201);
      const rotatedTarget = await server.inject({
        method: 'PATCH',
        url: `${targets}/hr`,
        headers: session,
        payload: { credentials: { token: 'wrong-target-token-second' } },
      });
      expect(
        (await server.inject({ method: 'POST', url: `${targets}/hr:test`, headers: session })).json(),
      ).toMatchObject({ ok: false });
      for (const body of [created.body, rotatedTarget.body]) expect(body).not.toContain('target-token');
      secrets.push('target-token-first', 'wrong-target-token-second');
    } finally {
      restoreKind();
    }

    const member = (
      await server.inject({
        method: 'POST',
        url: `/v1/accounts/${account.id}/users/${owner.id}:resetCredentials`,
        headers: session,
      })
    ).json();
    secrets.push(member.password, member.totp_secret);
    await core.keys.rotate(core.audit, testCtx);

    await core.audit.settle();
    await core.audit.sequencer.drain();
    await core.checkpointer.pass();
    let exported = '';
    for (const log of [account.id, SYSTEM_LOG])
      for await (const chunk of exportLog(core.database.db, core.checkpointKey, log)) exported += chunk;
    // The log did record these events (so the check below is not vacuous) …
    for (const action of [
      'user.sign_in',
      'app.create',
      'app.secret.rotate',
      'app.events_token.create',
      'app.events_token.revoke',
      'token.issue',
      'user.read',
      'user.create',
      'token.revoke',
      'user.credentials.reset',
      'key.rotate',
      'target.create',
      'target.credentials.rotate',
      'target.test',
      'secret.leaked',
      'containment.open',
      'containment.secret_read',
      'app.enable',
    ]) {
      expect(exported).toContain(`"action":"${action}"`);
    }
    // … and none of the secrets, nor their base64 or URL-encoded forms.
    const text = exported + lines.join('');
    for (const secret of secrets) {
      for (const form of [secret, Buffer.from(secret).toString('base64'), encodeURIComponent(secret)])
        expect(text).not.toContain(form);
    }
    // Nor any Cordon secret at all, made on a path this list missed: the scanners' own pattern finds none
    // (the session and client secrets above are of that format, so it would find them).
    expect(secrets.filter((secret) => parseSecret(secret).ok).length).toBeGreaterThanOrEqual(3);
    expect(text.match(new RegExp(SECRET_PATTERN.source, 'g')) ?? []).toEqual([]);
  });
});
