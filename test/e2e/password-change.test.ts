/**
 * Generated passwords (an account's first owner, a credential reset, the demo) must be changed before a
 * session may do anything else; POST /v1/auth/password makes the change.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { resetCredentials } from '../../src/directory/credentials.js';
import { base32Decode } from '../../src/base32.js';
import { timeStep, totpCode } from '../../src/directory/totp.js';
import { listAuditEntries } from '../../src/store/audit.js';
import { describeBackends } from '../support/backends.js';
import { mintSessionToken, rpc, testCtx } from '../support/fixtures.js';
import { openSignInSuite, type Person, type SignInSuite } from '../support/sign-in.js';

const CHANGE_REQUIRED = rpc(
  7,
  'password_change_required: change the generated password first (POST /v1/auth/password, or `cordon passwd`)',
  'PASSWORD_CHANGE_REQUIRED',
);
const weak = (message: string) => rpc(3, `weak_password: ${message}`, 'WEAK_PASSWORD');

describeBackends('changing a generated password', (backend) => {
  let suite: SignInSuite;
  let core: Core;
  let server: FastifyInstance;
  let accountId: string;
  let logLines: string[];
  let people: Record<string, Person>;

  beforeAll(async () => {
    suite = await openSignInSuite(backend, [
      ['admin', 'ADMIN'],
      ['guesser', 'ADMIN'],
    ]);
    ({ core, server, accountId, logLines, people } = suite);
  });
  afterAll(() => suite.close());

  /**
   * Signs in with `password` (default: the generated one) and the TOTP code `offset` steps from now (a
   * code works once). Tests that only need a session mint one instead.
   */
  const signIn = async (name: string, offset: number, password = people[name]!.creds.password) => {
    const person = people[name]!;
    // A code made in the last seconds of a step may be checked in the next one, where `offset` -1 is out of
    // the window: start in a fresh step.
    const into = (Date.now() / 1000) % 30;
    if (into > 25) await new Promise((resolve) => setTimeout(resolve, (30 - into) * 1000 + 50));
    const totp = totpCode(base32Decode(person.creds.totpSecret), timeStep(Date.now() / 1000) + offset);
    return server.inject({
      method: 'POST',
      url: '/v1/auth/sessions',
      payload: { email: person.email, password, totp },
    });
  };
  const mint = (name: string) => mintSessionToken(core, { account_id: accountId, id: people[name]!.id });
  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  const changePassword = (token: string, body: Record<string, unknown>) =>
    server.inject({ method: 'POST', url: '/v1/auth/password', headers: as(token), payload: body });
  const entries = async (action: string) => {
    await core.audit.settle();
    return (await listAuditEntries(core.database.db, { accountId, includeUnsequenced: true })).filter(
      (e) => e.action === action,
    );
  };

  it('admits a session of a generated password to whoami, sign-out and the change only', async () => {
    const signedIn = await signIn('owner', -1);
    expect(signedIn.statusCode).toBe(201);
    const { session_token: token, session_id: sessionId, password_change_required: required } = signedIn.json();
    expect(required).toBe(true);

    const current = await server.inject({ url: '/v1/auth/sessions/current', headers: as(token) });
    expect([current.statusCode, current.json().password_change_required]).toEqual([200, true]);

    const routes = [
      { method: 'GET', url: `/v1/accounts/${accountId}/users` },
      { method: 'GET', url: `/v1/accounts/${accountId}/apps` },
      { method: 'POST', url: `/v1/accounts/${accountId}/users/${people.admin!.id}:suspend` },
      { method: 'GET', url: `/v1/accounts/${accountId}/approvals` },
      { method: 'GET', url: `/v1/accounts/${accountId}/audit/checkpoint` },
    ] as const;
    for (const route of routes) {
      const res = await server.inject({ ...route, headers: as(token) });
      expect([route.url, res.statusCode, res.json()]).toEqual([route.url, 403, CHANGE_REQUIRED]);
    }
    // The refusal is audited under the person who was refused, and nothing was suspended.
    const [refusal] = (await entries('user.suspend')).filter((e) => e.outcome === 'refused');
    expect(refusal).toMatchObject({
      actor_type: 'user',
      actor_id: people.owner!.id,
      details: { code: 'PASSWORD_CHANGE_REQUIRED' },
    });
    const admin = await core.database.db
      .selectFrom('users')
      .select('state')
      .where('id', '=', people.admin!.id)
      .executeTakeFirstOrThrow();
    expect(admin.state).toBe('ACTIVE');

    const signOut = await server.inject({ method: 'DELETE', url: '/v1/auth/sessions/current', headers: as(token) });
    expect(signOut.statusCode).toBe(204);
    const revoked = await core.database.db
      .selectFrom('sessions')
      .select('revoke_reason')
      .where('id', '=', sessionId)
      .executeTakeFirstOrThrow();
    expect(revoked.revoke_reason).toBe('sign_out');
  });

  it('holds new passwords to the policy and refuses a wrong current password, audited without either', async () => {
    const token = await mint('owner');
    const current = people.owner!.creds.password;
    const refusals: Array<[Record<string, unknown>, number, unknown]> = [
      [
        { current_password: current, new_password: 'short-11chr' },
        400,
        weak('the new password needs at least 12 characters'),
      ],
      [
        { current_password: current, new_password: current },
        400,
        weak('the new password must differ from the current one'),
      ],
      // NUL has one rule on every route: refused before the password is looked at.
      [
        { current_password: current, new_password: 'twelve chars\0 and a NUL' },
        400,
        rpc(3, 'body.new_password: text may not contain a NUL character (U+0000)', 'INVALID_ARGUMENT', {
          field: 'body.new_password',
        }),
      ],
      [
        { current_password: current, new_password: 'é'.repeat(1025) },
        400,
        weak('the new password may have at most 1024 characters'),
      ],
      [
        { current_password: 'Not-The-Password-1', new_password: 'Chosen-By-Olivia-1' },
        403,
        rpc(7, 'current_password_wrong: the current password is not right', 'CURRENT_PASSWORD_WRONG'),
      ],
    ];
    for (const [body, status, answer] of refusals) {
      const res = await changePassword(token, body);
      expect([res.statusCode, res.json()]).toEqual([status, answer]);
    }
    for (const body of [
      {},
      { current_password: current },
      { current_password: current, new_password: 'Chosen-By-Olivia-1', extra: 1 },
      { current_password: 1, new_password: null },
    ]) {
      const res = await changePassword(token, body);
      expect([res.statusCode, res.json().details[0].reason]).toEqual([400, 'INVALID_ARGUMENT']);
    }
    const refused = (await entries('user.password.change')).map((e) => [e.outcome, e.actor_id, e.target_id, e.details]);
    expect(refused).toEqual([
      ...['weak_password', 'weak_password', 'weak_password', 'bad_password'].map((reason) => [
        'refused',
        people.owner!.id,
        people.owner!.id,
        { reason },
      ]),
    ]);
    // Still required: nothing changed.
    const still = await server.inject({ url: `/v1/accounts/${accountId}/users`, headers: as(token) });
    expect(still.statusCode).toBe(403);
    const text =
      JSON.stringify(await listAuditEntries(core.database.db, { accountId, includeUnsequenced: true })) +
      logLines.join('');
    for (const secret of [current, 'Not-The-Password-1', 'Chosen-By-Olivia-1', 'short-11chr'])
      expect(text).not.toContain(secret);
  });

  it(
    'changes the password: the session works, other sessions ' +
      'end, the old password stops, a reset requires a change again',
    async () => {
      const other = await mint('admin');
      const otherId = (
        await core.database.db
          .selectFrom('sessions')
          .select('id')
          .where('user_id', '=', people.admin!.id)
          .executeTakeFirstOrThrow()
      ).id;
      const signedIn = (await signIn('admin', -1)).json();
      const token = signedIn.session_token as string;

      const res = await changePassword(token, {
        current_password: people.admin!.creds.password,
        new_password: 'Admin chose this one',
      });
      expect([res.statusCode, res.json(), res.headers['cache-control']]).toEqual([
        200,
        { password_change_required: false, sessions_revoked: 1 },
        'no-store',
      ]);

      const users = await server.inject({ url: `/v1/accounts/${accountId}/users`, headers: as(token) });
      expect(users.statusCode).toBe(200);
      const current = await server.inject({ url: '/v1/auth/sessions/current', headers: as(token) });
      expect(current.json().password_change_required).toBe(false);
      expect((await server.inject({ url: '/v1/auth/sessions/current', headers: as(other) })).statusCode).toBe(401);

      const [entry] = (await entries('user.password.change')).filter((e) => e.outcome === 'changed');
      expect(entry).toMatchObject({
        actor_type: 'user',
        actor_id: people.admin!.id,
        target_type: 'user',
        target_id: people.admin!.id,
        authz: { method: 'session', session_id: signedIn.session_id },
      });
      expect(entry!.details).toEqual({ was_required: true, sessions_revoked: [otherId] });

      expect((await signIn('admin', 0)).statusCode).toBe(401);
      const again = await signIn('admin', 0, 'Admin chose this one');
      expect([again.statusCode, again.json().password_change_required]).toEqual([201, false]);

      // Changing a chosen password needs no reason, and is audited as not required.
      const second = await changePassword(again.json().session_token, {
        current_password: 'Admin chose this one',
        new_password: 'And now another one',
      });
      expect(second.statusCode).toBe(200);

      await resetCredentials(core.directory, testCtx, accountId, people.admin!.id).then(
        ({ credentials }) => (people.admin!.creds = credentials),
      );
      const afterReset = await signIn('admin', 1);
      expect([afterReset.statusCode, afterReset.json().password_change_required]).toEqual([201, true]);
      const text =
        JSON.stringify(await listAuditEntries(core.database.db, { accountId, includeUnsequenced: true })) +
        logLines.join('');
      for (const secret of ['Admin chose this one', 'And now another one']) expect(text).not.toContain(secret);
    },
  );

  it('backs off wrong current passwords like sign-ins: a stolen session is no oracle', async () => {
    const token = await mint('guesser');
    for (let i = 0; i < 5; i++) {
      const res = await changePassword(token, {
        current_password: `guess number ${i}`,
        new_password: 'Guesser chose this',
      });
      expect(res.statusCode).toBe(403);
    }
    const blocked = await changePassword(token, {
      current_password: people.guesser!.creds.password,
      new_password: 'Guesser chose this',
    });
    expect([blocked.statusCode, blocked.json().details[0].reason]).toEqual([429, 'SIGN_IN_BACKOFF']);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const reasons = (await entries('user.password.change'))
      .filter((e) => e.target_id === people.guesser!.id)
      .map((e) => e.details.reason);
    expect(reasons).toEqual([
      'bad_password',
      'bad_password',
      'bad_password',
      'bad_password',
      'bad_password',
      'backoff',
    ]);
  });
});
