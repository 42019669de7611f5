/**
 * The 1Password connector against a real 1Password-compatible server over real HTTP: a second Cordon,
 * whose own Users API speaks the contract. Its database and audit log are the judge of what the
 * connector did: the users' states, each token issued (`token.issue`) and revoked (`token.revoke`).
 */
import { beforeAll, expect, it } from 'vitest';
import { insertUsersWithGroups } from '../directory/users.js';
import { newId } from '../ids.js';
import { createApp } from '../oauth/apps.js';
import type { AuditRecord } from '../storage/schema.js';
import { insertRevocation } from '../store/tokens.js';
import { findUserById, listUsers } from '../store/users.js';
import { describeBackends } from '../../test/support/backends.js';
import { auditTrail, seedAccount, testCtx, type SeededAccount } from '../../test/support/fixtures.js';
import { useServer } from '../../test/support/server.js';
import { isTargetError, type Connector, type TargetError } from './connector.js';
import { onepassword } from './onepassword.js';

const UA = 'Cordon/0.1.0-test';
const VERSIONS = [
  ['v1', '/v1/oauth/token'],
  ['v1beta1', '/v1beta1/users/oauth2/token'],
] as const;

async function rejection(promise: Promise<unknown>): Promise<TargetError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isTargetError(error)) throw new Error(`expected a TargetError, got ${String(error)}`);
  return error;
}

describeBackends('1Password connector against a Cordon peer', (backend) => {
  const peer = useServer(backend, {
    env: { CORDON_OAUTH_RATE_PER_CLIENT: '0', CORDON_OAUTH_RATE_PER_ADDRESS: '0' },
    listen: true,
  });
  let seed: SeededAccount;
  let app: { id: string; clientId: string; secret: string };

  beforeAll(async () => {
    seed = await seedAccount(peer.core, 3);
    // Enough people for three pages of 1000.
    await peer.core.audit.transact((trx) =>
      insertUsersWithGroups(
        peer.core.directory,
        trx,
        testCtx,
        seed.accountId,
        Array.from({ length: 2_100 }, (_, i) => ({ email: `p${i}@big.example`, display_name: `P ${i}` })),
      ),
    );
    const made = await createApp(peer.core.directory, testCtx, seed.accountId, {
      name: 'cordon-target',
      permissions: ['users:list', 'users:read', 'users:suspend', 'users:reactivate'],
    });
    app = { id: made.app.id, clientId: made.app.client_id, secret: made.clientSecret! };
    peer.core.issuer = peer.url;
  });

  const connect = (api_version: string, client_secret = app.secret): Connector =>
    onepassword.create({
      config: { base_url: `${peer.url}/`, api_version, account_id: seed.accountId },
      credentials: { client_id: app.clientId, client_secret },
      userAgent: UA,
    });
  const entries = async (action: string, outcome = 'changed'): Promise<AuditRecord[]> =>
    (await auditTrail(peer.core, seed.accountId)).filter((e) => e.action === action && e.outcome === outcome);
  const stateOf = async (id: string) => (await findUserById(peer.core.database.db, seed.accountId, id))!.state;
  const paths = (c: Connector) => c.takeCalls().map((call) => `${call.status} ${call.method} ${call.path}`);

  for (const [version, tokenPath] of VERSIONS) {
    const users = () => `/${version}/accounts/${seed.accountId}/users`;

    it(`${version}: walks every user across pages of 1000, in the target's order`, async () => {
      const c = connect(version);
      const walked = [];
      const pages: (string | undefined)[] = [];
      let page: string | undefined;
      do {
        const next = await c.list(page);
        walked.push(...next.identities);
        pages.push((page = next.next));
      } while (page !== undefined);
      const everyone = await listUsers(peer.core.database.db, { accountId: seed.accountId, limit: 100_000 });
      expect(everyone.length).toBe(2_106);
      expect(walked).toEqual(
        everyone.map((u) => ({
          external_id: u.id,
          email: u.email,
          user_name: null,
          display_name: u.display_name,
          state: u.state,
        })),
      );
      expect(pages).toEqual([expect.any(String), expect.any(String), undefined]);
      expect(paths(c)).toEqual([
        `200 POST ${tokenPath}`,
        `200 GET ${users()}?max_page_size=1000`,
        `200 GET ${users()}?max_page_size=1000&page_token=${encodeURIComponent(pages[0]!)}`,
        `200 GET ${users()}?max_page_size=1000&page_token=${encodeURIComponent(pages[1]!)}`,
      ]);
      await c.close();
    });

    it(`${version}: reads, suspends (twice: idempotent), reads back SUSPENDED, reactivates`, async () => {
      const c = connect(version);
      const member = seed.members[0]!;
      const view = { external_id: member.id, email: member.email, user_name: null, display_name: 'Member 0' };
      expect(await c.read(member.id)).toEqual({ ...view, state: 'ACTIVE' });
      const before = (await entries('user.suspend')).length;
      await c.suspend(member.id);
      expect(await stateOf(member.id)).toBe('SUSPENDED');
      expect(await c.read(member.id)).toEqual({ ...view, state: 'SUSPENDED' });
      await c.suspend(member.id);
      expect(await stateOf(member.id)).toBe('SUSPENDED');
      const suspensions = (await entries('user.suspend')).slice(before);
      expect(suspensions.map((e) => [e.actor_type, e.actor_id, e.target_id, e.authz.user_agent])).toEqual([
        ['app', app.clientId, member.id, UA],
      ]);
      await c.reactivate(member.id);
      await c.reactivate(member.id);
      expect(await stateOf(member.id)).toBe('ACTIVE');
      expect(await c.read(member.id)).toEqual({ ...view, state: 'ACTIVE' });
      const u = `${users()}/${member.id}`;
      expect(paths(c)).toEqual([
        `200 POST ${tokenPath}`,
        `200 GET ${u}`,
        `200 POST ${u}:suspend`,
        `200 GET ${u}`,
        `200 POST ${u}:suspend`,
        `200 POST ${u}:reactivate`,
        `200 POST ${u}:reactivate`,
        `200 GET ${u}`,
      ]);
      await c.close();
    });

    it(`${version}: health is a token and ListUsers with max_page_size=1`, async () => {
      const c = connect(version);
      expect(await c.health()).toEqual({ ok: true, latency_ms: expect.any(Number) });
      expect(paths(c)).toEqual([`200 POST ${tokenPath}`, `200 GET ${users()}?max_page_size=1`]);
      await c.close();
    });
  }

  it('fetches one token for many calls, concurrent ones included, sent with the User-Agent', async () => {
    const before = (await entries('token.issue')).length;
    const c = connect('v1');
    const ids = [seed.admin, ...seed.members].map((u) => u.id);
    await Promise.all(ids.map((id) => c.read(id)));
    for (const id of ids) await c.read(id);
    await c.health();
    const issued = (await entries('token.issue')).slice(before);
    expect(issued.map((e) => [e.actor_id, e.details.user_agent, e.details.auth_method])).toEqual([
      [app.id, UA, 'client_secret_basic'],
    ]);
    expect(paths(c).filter((p) => p.includes('token'))).toEqual(['200 POST /v1/oauth/token']);
    await c.close();
  });

  it('on a revoked token: drops it, fetches a new one and retries the call once', async () => {
    const c = connect('v1');
    await c.health();
    const revokeLast = async () => {
      const [issued] = (await entries('token.issue')).slice(-1);
      await insertRevocation(peer.core.database.db, {
        account_id: seed.accountId,
        jti: issued!.details.jti as string,
        client_id: app.clientId,
        expires_at: new Date(Date.now() + 900_000),
      });
      return issued!;
    };
    const first = await revokeLast();
    c.takeCalls();
    const member = seed.members[1]!;
    expect(await c.read(member.id)).toMatchObject({ external_id: member.id, state: 'ACTIVE' });
    const u = `/v1/accounts/${seed.accountId}/users/${member.id}`;
    expect(paths(c)).toEqual([`401 GET ${u}`, '200 POST /v1/oauth/token', `200 GET ${u}`]);
    const [second] = (await entries('token.issue')).slice(-1);
    expect(second!.details.jti).not.toBe(first.details.jti);
    // Concurrent calls that all meet the revoked token share one new token.
    await revokeLast();
    const before = (await entries('token.issue')).length;
    const ids = seed.members.map((m) => m.id);
    expect((await Promise.all(ids.map((id) => c.read(id)))).map((i) => i?.external_id)).toEqual(ids);
    expect((await entries('token.issue')).length).toBe(before + 1);
    await c.close();
  });

  it("maps the peer's 403 no_owner_remain (the last owner) and an EAM refusal to protected", async () => {
    const c = connect('v1');
    const last = await rejection(c.suspend(seed.owner.id));
    expect(last.details).toEqual({
      class: 'protected',
      status: 403,
      code: '7',
      message: 'no_owner_remain',
      request_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(await stateOf(seed.owner.id)).toBe('ACTIVE');
    const eam = await rejection(c.suspend(seed.eam.id));
    expect(eam.details).toEqual({
      class: 'protected',
      status: 403,
      code: '7',
      message: 'externally_managed_user: the user is managed by an external identity provider',
      request_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    await c.close();
  });

  it('maps 404 on a user to gone, and read of one to null', async () => {
    const c = connect('v1beta1');
    const nobody = newId();
    const gone = { class: 'gone', status: 404, code: '5', message: 'user not found', request_id: expect.any(String) };
    expect((await rejection(c.suspend(nobody))).details).toEqual(gone);
    expect((await rejection(c.reactivate(nobody))).details).toEqual(gone);
    expect(await c.read(nobody)).toBeNull();
    await c.close();
  });

  it('resolves by external id, else by email case-insensitively through every page', async () => {
    const c = connect('v1');
    const everyone = await listUsers(peer.core.database.db, { accountId: seed.accountId, limit: 100_000 });
    const lastOne = everyone.at(-1)!;
    const expected = {
      external_id: lastOne.id,
      email: lastOne.email,
      user_name: null,
      display_name: lastOne.display_name,
      state: 'ACTIVE',
    };
    expect(await c.resolve({ external_id: lastOne.id })).toEqual(expected);
    c.takeCalls();
    expect(await c.resolve({ email: ` ${lastOne.email.toUpperCase()} ` })).toEqual(expected);
    expect(paths(c).map((p) => p.replace(/page_token=.*/, 'page_token=…'))).toEqual([
      `200 GET /v1/accounts/${seed.accountId}/users?max_page_size=1000`,
      `200 GET /v1/accounts/${seed.accountId}/users?max_page_size=1000&page_token=…`,
      `200 GET /v1/accounts/${seed.accountId}/users?max_page_size=1000&page_token=…`,
    ]);
    // A stale external id falls back to the email; a user name that is an address counts as one.
    expect(await c.resolve({ external_id: newId(), user_name: lastOne.email })).toEqual(expected);
    expect(await c.resolve({ email: 'nobody@nowhere.example' })).toBeNull();
    expect(await c.resolve({ user_name: 'not-an-address' })).toBeNull();
    await c.close();
  });

  it("reports the token endpoint's exact error when the secret is wrong", async () => {
    const c = connect('v1', 'not the secret');
    expect(await c.health()).toEqual({
      ok: false,
      latency_ms: expect.any(Number),
      error: {
        class: 'auth',
        status: 401,
        code: 'invalid_client',
        message: 'client authentication failed',
        request_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      },
    });
    expect(paths(c)).toEqual(['401 POST /v1/oauth/token']);
    expect((await entries('token.issue', 'refused')).at(-1)!.details).toMatchObject({ reason: 'bad_secret' });
  });

  it('close() revokes the cached token at the version’s revoke path; closing again calls nothing', async () => {
    for (const [version, tokenPath] of VERSIONS) {
      const c = connect(version);
      await c.health();
      const [issued] = (await entries('token.issue')).slice(-1);
      await c.close();
      const revokePath = version === 'v1' ? '/v1/oauth/revoke' : '/v1beta1/users/oauth2/revoke';
      expect(paths(c)).toEqual([
        `200 POST ${tokenPath}`,
        `200 GET /${version}/accounts/${seed.accountId}/users?max_page_size=1`,
        `200 POST ${revokePath}`,
      ]);
      const [revoked] = (await entries('token.revoke')).slice(-1);
      expect([revoked!.actor_id, revoked!.details.jti]).toEqual([app.id, issued!.details.jti]);
      await c.close();
      expect(c.takeCalls()).toEqual([]);
    }
  });
});
