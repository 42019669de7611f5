/**
 * Cordon serving Global Token Revocation: every way a caller authenticates — an access token with and without
 * sessions:revoke_all, a DPoP-bound one, the app's own signed JWT (accepted once; replayed, misdirected,
 * expired, too long-lived or foreign-keyed refused) — with the exact answers and the audit entries.
 */
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/oauth/apps.js';
import { accessTokenHash } from '../../src/oauth/dpop.js';
import { describeBackends } from '../support/backends.js';
import { appAccessToken, auditTrail, mintSessionToken, testCtx } from '../support/fixtures.js';
import { findUserByEmail } from '../../src/store/users.js';
import {
  appJwt,
  email,
  gtrCall,
  lastEntry,
  now,
  oauthError,
  sessionLives,
  useGtrPeer,
  type GtrPeer,
} from '../support/gtr-peer.js';

const bearer = (peer: GtrPeer, name: string) => `Bearer ${peer.tokens[name]}`;

describeBackends('Global Token Revocation: authentication', (backend) => {
  const peer = useGtrPeer(backend);

  it('refuses an access token without sessions:revoke_all (403), audited', async () => {
    const session = await mintSessionToken(peer.core, peer.members[2]!);
    const res = await gtrCall(peer, bearer(peer, 'reader'), email(peer.members[2]!.email));
    expect([res.statusCode, res.json()]).toEqual([
      403,
      oauthError('insufficient_scope', 'the access token lacks the sessions:revoke_all permission'),
    ]);
    expect(res.headers['www-authenticate']).toBe(
      'Bearer realm="cordon", error="insufficient_scope", scope="sessions:revoke_all"',
    );
    expect(await sessionLives(peer, session)).toBe(true);
    expect(await lastEntry(peer)).toMatchObject({
      action: 'user.sessions.revoke_all',
      actor_id: peer.apps.reader!.clientId,
      target_type: 'account',
      outcome: 'refused',
      details: { code: 'PERMISSION_DENIED' },
    });
  });

  it('keeps an app within its constraints: a protected role is 403 access_denied, audited on the user', async () => {
    const { app, clientSecret } = await createApp(peer.core.directory, testCtx, peer.accountId, {
      name: 'constrained',
      permissions: ['sessions:revoke_all'],
      protected_roles: ['ADMIN'],
    });
    const token = await appAccessToken(peer.server, app.client_id, clientSecret!);
    const admin = (await findUserByEmail(peer.core.database.db, peer.accountId, 'admin@test.example'))!;
    const session = await mintSessionToken(peer.core, admin);
    const res = await gtrCall(peer, `Bearer ${token}`, email(admin.email));
    expect([res.statusCode, res.json()]).toEqual([
      403,
      oauthError('access_denied', 'app_constraint: the app may not act on ADMIN users'),
    ]);
    expect(await sessionLives(peer, session)).toBe(true);
    expect(await lastEntry(peer)).toMatchObject({
      action: 'user.sessions.revoke_all',
      actor_id: app.client_id,
      target_type: 'user',
      target_id: admin.id,
      outcome: 'refused',
      details: { format: 'email', code: 'APP_CONSTRAINT', constraint: 'protected_roles', role: 'ADMIN' },
    });
    expect((await gtrCall(peer, `Bearer ${token}`, email(peer.members[0]!.email))).statusCode).toBe(204);
  });

  it('refuses callers that do not authenticate (401 invalid_token), without writing to any account', async () => {
    const before = (await auditTrail(peer.core, peer.accountId)).length;
    const cases: Array<[string | undefined, string]> = [
      [undefined, 'a bearer access token or a signed JWT is required'],
      ['Basic Zm9vOmJhcg==', 'a bearer access token or a signed JWT is required'],
      ['Bearer not-a-jwt', 'the access token or signed JWT is invalid, expired or used before'],
      [`Bearer ${peer.tokens.revoker}x`, 'the access token is invalid or expired'],
      [
        `Bearer ${await appJwt(peer, 'idp', { iss: 'nobody' })}`,
        'the access token or signed JWT is invalid, expired or used before',
      ],
    ];
    for (const [authorization, description] of cases) {
      const res = await gtrCall(peer, authorization, email(peer.members[3]!.email));
      expect([res.statusCode, res.json()], authorization).toEqual([401, oauthError('invalid_token', description)]);
      expect(res.headers['www-authenticate'], authorization).toMatch(/^Bearer realm="cordon"/);
    }
    expect((await auditTrail(peer.core, peer.accountId)).length).toBe(before);
  });

  describe("the app's own signed JWT (private_key_jwt apps)", () => {
    it('is accepted once per jti, with aud the endpoint or the issuer', async () => {
      const user = peer.members[3]!;
      for (const aud of [peer.endpoint, peer.issuer]) {
        const session = await mintSessionToken(peer.core, user);
        const jwt = await appJwt(peer, 'idp', { aud });
        const res = await gtrCall(peer, `Bearer ${jwt}`, email(user.email));
        expect([res.statusCode, res.body], aud).toEqual([204, '']);
        expect(await sessionLives(peer, session)).toBe(false);
        expect(await lastEntry(peer)).toMatchObject({
          action: 'user.sessions.revoke_all',
          actor_type: 'app',
          actor_id: peer.apps.idp!.clientId,
          target_id: user.id,
          outcome: 'changed',
          authz: {
            method: 'private_key_jwt',
            client_id: peer.apps.idp!.clientId,
            permissions: ['sessions:revoke_all'],
          },
          details: { format: 'email', client_id: peer.apps.idp!.clientId, count: 1 },
        });

        const replay = await gtrCall(peer, `Bearer ${jwt}`, email(user.email));
        expect([replay.statusCode, replay.json()]).toEqual([
          401,
          oauthError('invalid_token', 'the access token or signed JWT is invalid, expired or used before'),
        ]);
        expect(replay.headers['www-authenticate']).toBe('Bearer realm="cordon", error="invalid_token"');
        expect(await lastEntry(peer)).toMatchObject({
          action: 'user.sessions.revoke_all',
          actor_id: peer.apps.idp!.clientId,
          target_type: 'account',
          outcome: 'refused',
          authz: { method: 'private_key_jwt' },
          details: { code: 'UNAUTHENTICATED', reason: 'assertion_replayed' },
        });
      }
    });

    it('refuses a wrong audience, an expired or too long-lived JWT, a foreign key: 401, audited with why', async () => {
      const user = peer.members[3]!;
      const session = await mintSessionToken(peer.core, user);
      const cases: Array<[string, Promise<string>]> = [
        ['bad_assertion', appJwt(peer, 'idp', { aud: `${peer.issuer}/oauth/token` })],
        ['bad_assertion', appJwt(peer, 'idp', { aud: 'https://elsewhere.example/oauth/global-token-revocation' })],
        ['bad_assertion', appJwt(peer, 'idp', { exp: now() - 60 })],
        ['assertion_lifetime_too_long', appJwt(peer, 'idp', { exp: now() + 600 })],
        ['bad_assertion', appJwt(peer, 'idp', {}, peer.otherKey)],
        // An app without a registered key cannot sign its way in.
        ['no_registered_key', appJwt(peer, 'revoker')],
      ];
      for (const [reason, jwt] of cases) {
        const res = await gtrCall(peer, `Bearer ${await jwt}`, email(user.email));
        expect([res.statusCode, res.json().error], reason).toEqual([401, 'invalid_token']);
        expect(await lastEntry(peer), reason).toMatchObject({
          action: 'user.sessions.revoke_all',
          outcome: 'refused',
          details: { code: 'UNAUTHENTICATED', reason },
        });
      }
      expect(await sessionLives(peer, session)).toBe(true);
    });

    it('of an app without sessions:revoke_all is 403', async () => {
      const res = await gtrCall(peer, `Bearer ${await appJwt(peer, 'idp-reader')}`, email(peer.members[3]!.email));
      expect([res.statusCode, res.json()]).toEqual([
        403,
        oauthError('insufficient_scope', 'the app lacks the sessions:revoke_all permission'),
      ]);
      expect(await lastEntry(peer)).toMatchObject({
        actor_id: peer.apps['idp-reader']!.clientId,
        outcome: 'refused',
        details: { code: 'PERMISSION_DENIED' },
      });
    });
  });

  it('admits a DPoP-bound access token with its proof, and refuses it without', async () => {
    const pair = await generateKeyPair('ES256', { extractable: true });
    const jwk: JWK = await exportJWK(pair.publicKey);
    const proof = (htm: string, htu: string, extra: Record<string, unknown> = {}) =>
      new SignJWT({ htm, htu, jti: `p-${Math.random()}`, iat: now(), ...extra })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
        .sign(pair.privateKey);
    const bound = peer.apps.bound!;
    const issued = await peer.server.inject({
      method: 'POST',
      url: '/oauth/token',
      headers: {
        authorization: `Basic ${Buffer.from(`${bound.clientId}:${bound.secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        dpop: await proof('POST', `${peer.issuer}/oauth/token`),
      },
      payload: 'grant_type=client_credentials',
    });
    const token = issued.json().access_token as string;
    expect(issued.json().token_type).toBe('DPoP');
    const user = peer.members[2]!;
    const session = await mintSessionToken(peer.core, user);
    const bare = await gtrCall(peer, `Bearer ${token}`, email(user.email));
    expect(bare.statusCode).toBe(401);
    expect(await sessionLives(peer, session)).toBe(true);
    const res = await gtrCall(peer, `DPoP ${token}`, email(user.email), {
      headers: { dpop: await proof('POST', peer.endpoint, { ath: accessTokenHash(token) }) },
    });
    expect([res.statusCode, res.body]).toEqual([204, '']);
    expect(await sessionLives(peer, session)).toBe(false);
    expect(await lastEntry(peer)).toMatchObject({
      actor_id: peer.apps.bound!.clientId,
      outcome: 'changed',
      authz: { method: 'bearer', client_id: peer.apps.bound!.clientId },
    });
  });
});
