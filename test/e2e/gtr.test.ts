/**
 * Cordon serving Global Token Revocation (draft-parecki-oauth-global-token-revocation-06): every subject
 * format, unknown and foreign users, bad bodies (and a fuzz: never a 5xx), the exact answers, the audit entries,
 * and that the sessions are really dead. The ways a caller authenticates are in gtr-auth.test.ts.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { listSessionsOfUser } from '../../src/store/sessions.js';
import { describeBackends } from '../support/backends.js';
import { mintSessionToken } from '../support/fixtures.js';
import {
  email,
  gtrCall,
  lastEntry,
  oauthError,
  opaque,
  sessionLives,
  useGtrPeer,
  type GtrPeer,
} from '../support/gtr-peer.js';

const bearer = (peer: GtrPeer, name: string) => `Bearer ${peer.tokens[name]}`;

describeBackends('Global Token Revocation endpoint', (backend) => {
  const peer = useGtrPeer(backend);

  it('ends every session of the user named by email (an access token with sessions:revoke_all): 204', async () => {
    const user = peer.members[0]!;
    const sessions = [await mintSessionToken(peer.core, user), await mintSessionToken(peer.core, user)];
    const bystander = await mintSessionToken(peer.core, peer.members[1]!);
    expect(await sessionLives(peer, sessions[0]!)).toBe(true);

    const res = await gtrCall(peer, bearer(peer, 'revoker'), email(user.email.toUpperCase()));
    expect([res.statusCode, res.body]).toEqual([204, '']);
    expect(res.headers['cache-control']).toBe('no-store');
    for (const token of sessions) expect(await sessionLives(peer, token)).toBe(false);
    expect(await sessionLives(peer, bystander)).toBe(true);
    const rows = await listSessionsOfUser(peer.core.database.db, peer.accountId, user.id);
    expect(rows.map((s) => s.revoke_reason)).toEqual(['global_token_revocation', 'global_token_revocation']);
    expect(await lastEntry(peer)).toMatchObject({
      action: 'user.sessions.revoke_all',
      actor_type: 'app',
      actor_id: peer.apps.revoker!.clientId,
      target_type: 'user',
      target_id: user.id,
      outcome: 'changed',
      authz: { method: 'bearer', client_id: peer.apps.revoker!.clientId, permissions: ['sessions:revoke_all'] },
      details: {
        format: 'email',
        client_id: peer.apps.revoker!.clientId,
        count: 2,
        sessions_revoked: rows.map((s) => s.id).sort(),
      },
    });

    // A user with no live session: still 204, recorded as unchanged.
    const again = await gtrCall(peer, bearer(peer, 'revoker'), email(user.email));
    expect(again.statusCode).toBe(204);
    expect(await lastEntry(peer)).toMatchObject({
      outcome: 'unchanged',
      details: { format: 'email', count: 0, sessions_revoked: [] },
    });
  });

  it('takes the opaque and iss_sub formats (Cordon user ids, under this issuer only)', async () => {
    const user = peer.members[1]!;
    // The first test left this user a session: end it, so that each call below ends exactly one.
    expect((await gtrCall(peer, bearer(peer, 'revoker'), opaque(user.id))).statusCode).toBe(204);
    for (const body of [
      opaque(user.id),
      { sub_id: { format: 'iss_sub', iss: peer.issuer, sub: user.id } },
      { sub_id: { format: 'iss_sub', iss: `${peer.issuer}/`, sub: user.id } },
    ]) {
      const session = await mintSessionToken(peer.core, user);
      const res = await gtrCall(peer, bearer(peer, 'revoker'), body);
      expect([res.statusCode, res.body], JSON.stringify(body)).toEqual([204, '']);
      expect(await sessionLives(peer, session)).toBe(false);
      expect(await lastEntry(peer)).toMatchObject({
        target_id: user.id,
        outcome: 'changed',
        details: { format: body.sub_id.format, count: 1 },
      });
    }
    const session = await mintSessionToken(peer.core, user);
    const foreign = await gtrCall(peer, bearer(peer, 'revoker'), {
      sub_id: { format: 'iss_sub', iss: 'https://idp.example', sub: user.id },
    });
    expect([foreign.statusCode, foreign.json()]).toEqual([
      404,
      oauthError('user_not_found', 'user not found: another issuer'),
    ]);
    expect(await sessionLives(peer, session)).toBe(true);
    expect(await lastEntry(peer)).toMatchObject({
      action: 'user.sessions.revoke_all',
      target_type: 'account',
      target_id: peer.accountId,
      outcome: 'refused',
      details: { code: 'USER_NOT_FOUND' },
    });
  });

  it("answers 404 for an unknown user and for another account's user, whose sessions live on", async () => {
    const session = await mintSessionToken(peer.core, peer.outsider);
    for (const body of [
      email(peer.outsider.email),
      opaque(peer.outsider.id),
      opaque('no-such-user'),
      email('nobody@test.example'),
    ]) {
      const res = await gtrCall(peer, bearer(peer, 'revoker'), body);
      expect([res.statusCode, res.json()], JSON.stringify(body)).toEqual([
        404,
        oauthError('user_not_found', 'user not found'),
      ]);
      expect(await lastEntry(peer)).toMatchObject({
        actor_id: peer.apps.revoker!.clientId,
        target_type: 'account',
        target_id: peer.accountId,
        outcome: 'refused',
        details: { code: 'USER_NOT_FOUND', format: body.sub_id.format },
      });
    }
    expect(await sessionLives(peer, session)).toBe(true);
    // The other account's own app reaches its own user.
    expect((await gtrCall(peer, bearer(peer, 'outside'), email(peer.outsider.email))).statusCode).toBe(204);
    expect(await sessionLives(peer, session)).toBe(false);
  });

  it('answers 400 invalid_request for a bad body or format, audited under the caller', async () => {
    const cases: Array<[string, string, string?]> = [
      ['', 'the body is not JSON'],
      ['{"sub_id":', 'the body is not JSON'],
      ['[]', 'the body must be {"sub_id": {"format": …}} (RFC 9493 subject identifier)'],
      ['null', 'the body must be {"sub_id": {"format": …}} (RFC 9493 subject identifier)'],
      ['{"sub_id":"a@b.c"}', 'the body must be {"sub_id": {"format": …}} (RFC 9493 subject identifier)'],
      ['{"sub_id":{"format":"phone_number","phone_number":"+1"}}', 'sub_id.format must be email, opaque or iss_sub'],
      ['{"sub_id":{"format":"email"}}', 'sub_id.email must be a string of 1 to 320 characters for format email'],
      ['{"sub_id":{"format":"email","email":"nobody"}}', 'sub_id.email is not an email address'],
      ['{"sub_id":{"format":"email","email":"a\\u0000@b.c"}}', 'sub_id.email may not hold control characters'],
      ['{"sub_id":{"format":"opaque","id":7}}', 'sub_id.id must be a string of 1 to 320 characters for format opaque'],
      [
        '{"sub_id":{"format":"iss_sub","iss":"x"}}',
        'sub_id.sub must be a string of 1 to 320 characters for format iss_sub',
      ],
      [
        'sub_id=x',
        'send the request as application/json: {"sub_id": {"format": …}}',
        'application/x-www-form-urlencoded',
      ],
      ['{"sub_id":{}}', 'send the request as application/json: {"sub_id": {"format": …}}', 'text/plain'],
    ];
    for (const [body, description, type] of cases) {
      const res = await gtrCall(peer, bearer(peer, 'revoker'), body, type ? { headers: { 'content-type': type } } : {});
      expect([res.statusCode, res.json()], body).toEqual([400, oauthError('invalid_request', description)]);
      expect(await lastEntry(peer), body).toMatchObject({
        actor_id: peer.apps.revoker!.clientId,
        outcome: 'refused',
        details: { code: 'OAUTH_INVALID_REQUEST' },
      });
    }
    // A raw NUL (the rule of every route), after authentication: the caller's 400, audited; anyone else's 401.
    const nul = '{"sub_id":{"format":"email","email":"a\u0000@b.c"}}';
    expect(nul).toContain('\u0000');
    const res = await gtrCall(peer, bearer(peer, 'revoker'), nul);
    expect([res.statusCode, res.json()]).toEqual([
      400,
      oauthError('invalid_request', 'body: text may not contain a NUL character (U+0000)'),
    ]);
    expect(await lastEntry(peer)).toMatchObject({ outcome: 'refused', details: { code: 'INVALID_ARGUMENT' } });
    expect((await gtrCall(peer, undefined, nul)).statusCode).toBe(401);
  });

  it('never answers 5xx, whatever the body', async () => {
    const subject = fc.record(
      {
        format: fc.oneof(fc.constantFrom('email', 'opaque', 'iss_sub'), fc.string()),
        email: fc.oneof(fc.string(), fc.emailAddress(), fc.integer()),
        id: fc.oneof(fc.string(), fc.constant(peer.members[0]!.id)),
        iss: fc.oneof(fc.constant(peer.issuer), fc.string()),
        sub: fc.oneof(fc.string({ unit: 'binary' }), fc.constant(peer.members[0]!.id)),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.json(),
          fc.string({ unit: 'binary' }),
          subject.map((s) => JSON.stringify({ sub_id: s })),
        ),
        async (body) => {
          const res = await gtrCall(peer, bearer(peer, 'revoker'), body);
          expect([204, 400, 404]).toContain(res.statusCode);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('is in the authorization server metadata', async () => {
    const res = await peer.server.inject({ url: '/.well-known/oauth-authorization-server' });
    expect(res.json()).toMatchObject({
      global_token_revocation_endpoint: peer.endpoint,
      global_token_revocation_endpoint_auth_methods_supported: ['Bearer', 'DPoP', 'private_key_jwt'],
      scopes_supported: expect.arrayContaining(['sessions:revoke_all']),
    });
    const doc = (await peer.server.inject({ url: '/openapi.json' })).json();
    expect(Object.keys(doc.paths['/oauth/global-token-revocation'].post.responses)).toEqual([
      '204',
      '400',
      '401',
      '403',
      '404',
      '429',
      '503',
    ]);
  });
});
