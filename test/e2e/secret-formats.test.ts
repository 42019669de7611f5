/**
 * The secrets Cordon issues are in its scannable format (README, Secret formats) and work: a session from
 * sign-in, an app's client secret (made and rotated), a source's URL token and HMAC secret. Those made
 * before the format (`cdns_` sessions, base64url client secrets, `cdnt_` URL tokens) keep working until
 * they are rotated, signed out or expire; a look-alike with one character changed works nowhere.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { beforeAll, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { base32Decode } from '../../src/base32.js';
import { createAccount } from '../../src/directory/accounts.js';
import { timeStep, totpCode } from '../../src/directory/totp.js';
import { hashClientSecret } from '../../src/oauth/client-secret.js';
import { signBody, tokenHash } from '../../src/response/sources.js';
import { parseSecret } from '../../src/secret-format.js';
import type { User } from '../../src/storage/schema.js';
import { describeBackends } from '../support/backends.js';
import { mintSessionToken, testCtx } from '../support/fixtures.js';
import { useServer } from '../support/server.js';

/** The secret with one character of its random part changed: its checksum no longer matches. */
const lookAlike = (secret: string) => {
  const at = secret.length - 20;
  return secret.slice(0, at) + (secret[at] === 'a' ? 'b' : 'a') + secret.slice(at + 1);
};
const legacy = (prefix: string) => `${prefix}${randomBytes(32).toString('base64url')}`;

describeBackends('secret formats', (backend) => {
  let core: Core;
  let server: FastifyInstance;
  let accountId: string;
  let owner: User;
  let session: string;
  const suite = useServer(backend, {
    env: { CORDON_OAUTH_RATE_PER_CLIENT: '0', CORDON_OAUTH_RATE_PER_ADDRESS: '0' },
  });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    ({ core, server } = suite);
    const created = await createAccount(core.directory, testCtx, {
      name: 'Formats',
      owner: { email: 'owner@formats.example', display_name: 'Owner' },
    });
    accountId = created.account.id;
    owner = created.owner;
    const signedIn = await server.inject({
      method: 'POST',
      url: '/v1/auth/sessions',
      payload: {
        email: owner.email,
        password: created.ownerCredentials.password,
        totp: totpCode(base32Decode(created.ownerCredentials.totpSecret), timeStep(Date.now() / 1000)),
      },
    });
    expect(signedIn.statusCode, signedIn.body).toBe(201);
    session = signedIn.json<{ session_token: string }>().session_token;
    const changed = await server.inject({
      method: 'POST',
      url: '/v1/auth/password',
      headers: bearer(session),
      payload: { current_password: created.ownerCredentials.password, new_password: 'Formats-Owner-Password-1' },
    });
    expect(changed.statusCode, changed.body).toBe(200);
  });

  /** The status of a person-only route and of a route people and apps share, with `token`. */
  const statuses = async (token: string) => [
    (await server.inject({ url: '/v1/auth/sessions/current', headers: bearer(token) })).statusCode,
    (await server.inject({ url: `/v1/accounts/${accountId}/audit/entries`, headers: bearer(token) })).statusCode,
  ];

  it('a session from sign-in is a cordon_sess_ secret that works; a look-alike does not', async () => {
    expect(parseSecret(session)).toEqual({ ok: true, kind: 'sess' });
    expect(await statuses(session)).toEqual([200, 200]);
    expect(await statuses(lookAlike(session))).toEqual([401, 401]);
  });

  it('a cdns_ session made before the format still works, until it is signed out', async () => {
    const old = await mintSessionToken(core, owner, 'cli', legacy('cdns_'));
    expect(parseSecret(old).ok).toBe(false);
    expect(await statuses(old)).toEqual([200, 200]);
    const whoami = await server.inject({ url: '/v1/auth/sessions/current', headers: bearer(old) });
    expect(whoami.json()).toMatchObject({ user: { id: owner.id } });
    expect(
      (await server.inject({ method: 'DELETE', url: '/v1/auth/sessions/current', headers: bearer(old) })).statusCode,
    ).toBe(204);
    expect(await statuses(old)).toEqual([401, 401]);
  });

  it('a client secret is a cordon_cs_ secret that gets tokens; an older one does until rotated', async () => {
    const created = await server.inject({
      method: 'POST',
      url: `/v1/accounts/${accountId}/apps`,
      headers: bearer(session),
      payload: { name: 'soar', permissions: ['audit:read'] },
    });
    expect(created.statusCode, created.body).toBe(201);
    const app = created.json<{ id: string; client_id: string; client_secret: string }>();
    expect(parseSecret(app.client_secret)).toEqual({ ok: true, kind: 'cs' });
    const token = (secret: string) =>
      server.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: {
          authorization: `Basic ${Buffer.from(`${app.client_id}:${secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        payload: 'grant_type=client_credentials',
      });
    const issued = await token(app.client_secret);
    expect(issued.statusCode, issued.body).toBe(200);
    expect(
      (
        await server.inject({
          url: `/v1/accounts/${accountId}/audit/entries`,
          headers: bearer(issued.json().access_token),
        })
      ).statusCode,
    ).toBe(200);
    expect((await token(lookAlike(app.client_secret))).statusCode).toBe(401);

    // A secret of the old form (43 base64url characters), as an app made before the format holds it.
    const old = randomBytes(32).toString('base64url');
    await core.database.db
      .updateTable('oauth_apps')
      .set({ secret_hash: hashClientSecret(old) })
      .where('id', '=', app.id)
      .execute();
    expect((await token(old)).statusCode).toBe(200);
    const rotated = await server.inject({
      method: 'POST',
      url: `/v1/accounts/${accountId}/apps/${app.id}:rotateSecret`,
      headers: bearer(session),
    });
    expect(rotated.statusCode, rotated.body).toBe(200);
    const fresh = rotated.json<{ client_secret: string }>().client_secret;
    expect(parseSecret(fresh)).toEqual({ ok: true, kind: 'cs' });
    expect((await token(old)).statusCode).toBe(401);
    expect((await token(fresh)).statusCode).toBe(200);
  });

  it('source URL tokens and HMAC secrets are cordon_st_ and cordon_sh_ secrets; an older URL token works', async () => {
    const create = async (name: string, auth: 'url_token' | 'hmac') => {
      const res = await server.inject({
        method: 'POST',
        url: `/v1/accounts/${accountId}/sources`,
        headers: bearer(session),
        payload: { name, format: 'splunk', auth },
      });
      expect(res.statusCode, res.body).toBe(200);
      return res.json<{ source: { id: string }; secret: string }>();
    };
    const body = JSON.stringify({ sid: 'scheduler__x', search_name: 'Brute force', result: { user: 'nobody' } });
    const post = (id: string, query: string, headers: Record<string, string> = {}) =>
      server.inject({
        method: 'POST',
        url: `/v1/accounts/${accountId}/sources/${id}/signals${query}`,
        payload: body,
        headers: { 'content-type': 'application/json', ...headers },
      });
    const signed = (secret: string) => {
      const ts = String(Math.floor(Date.now() / 1000));
      return { 'x-cordon-timestamp': ts, 'x-cordon-signature': signBody(secret, ts, body) };
    };

    const splunk = await create('splunk', 'url_token');
    expect(parseSecret(splunk.secret)).toEqual({ ok: true, kind: 'st' });
    expect((await post(splunk.source.id, `?token=${splunk.secret}`)).statusCode).toBe(200);
    expect((await post(splunk.source.id, `?token=${lookAlike(splunk.secret)}`)).statusCode).toBe(401);

    const hmac = await create('signed', 'hmac');
    expect(parseSecret(hmac.secret)).toEqual({ ok: true, kind: 'sh' });
    expect((await post(hmac.source.id, '', signed(hmac.secret))).statusCode).toBe(200);
    expect((await post(hmac.source.id, '', signed(lookAlike(hmac.secret)))).statusCode).toBe(401);

    // A URL token of the old form, as a source made before the format holds it (stored as its hash).
    const old = legacy('cdnt_');
    await core.database.db
      .updateTable('signal_sources')
      .set({ token_hash: tokenHash(old) })
      .where('id', '=', splunk.source.id)
      .execute();
    expect((await post(splunk.source.id, `?token=${old}`)).statusCode).toBe(200);
    expect((await post(splunk.source.id, `?token=${splunk.secret}`)).statusCode).toBe(401);
  });
});
