/**
 * An app never holds more power than the person who made it could exercise (issue: hardening §1). Each
 * escalation an insider found is tried here over HTTP, as the insider would: an ADMIN makes an app and
 * acts through it on what the ADMIN may not touch directly.
 */
import type { FastifyInstance } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { createUser } from '../../src/directory/users.js';
import { createApp } from '../../src/oauth/apps.js';
import { applyPlaybooks } from '../../src/response/playbooks.js';
import type { User } from '../../src/storage/schema.js';
import { describeBackends } from '../support/backends.js';
import { useServer } from '../support/server.js';
import {
  appAccessToken,
  auditTrail,
  mintSessionToken,
  rpc,
  seedAccount,
  type SeededAccount,
  testCtx,
} from '../support/fixtures.js';

describeBackends('an app never holds more power than its maker', (backend) => {
  let core: Core;
  let server: FastifyInstance;
  let seed: SeededAccount;
  let ownerToken: string;
  let adminToken: string;
  let n = 0;

  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  const api = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, token: string, payload?: unknown) =>
    server.inject({
      method,
      url: `/v1/accounts/${seed.accountId}${path}`,
      headers: as(token),
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
  const user = (name: string, role: 'OWNER' | 'ADMIN' | 'MEMBER' = 'MEMBER') =>
    createUser(core.directory, testCtx, seed.accountId, {
      email: `${name}-${++n}@test.example`,
      display_name: name,
      role,
    });
  const state = async (userId: string) =>
    (await core.database.db.selectFrom('users').select('state').where('id', '=', userId).executeTakeFirstOrThrow())
      .state;
  /** An app made over HTTP by the person whose session this is, and a token for it. */
  const appOf = async (sessionToken: string, permissions: string[]) => {
    const made = await api('POST', '/apps', sessionToken, { name: `app-${++n}`, permissions });
    expect(made.statusCode, made.body).toBe(201);
    const body = made.json<{ id: string; client_id: string; client_secret: string }>();
    return { id: body.id, token: await appAccessToken(server, body.client_id, body.client_secret), body: made.json() };
  };
  const entriesOf = async (action: string, targetId: string) =>
    (await auditTrail(core, seed.accountId)).filter((e) => e.action === action && e.target_id === targetId);

  const suite = useServer(backend, {
    env: { CORDON_OAUTH_RATE_PER_CLIENT: '0', CORDON_RESTORE_WORKER_INTERVAL_MS: '600000' },
  });

  beforeAll(async () => {
    ({ core, server } = suite);
    seed = await seedAccount(core, 2);
    ownerToken = await mintSessionToken(core, seed.owner);
    adminToken = await mintSessionToken(core, seed.admin);
  });

  it(
    "ADMIN → app → suspend OWNER is refused: the app's constraints " +
      "carry its maker's ceiling, shown in apps get and audited",
    async () => {
      // A second owner, so that the last-owner rule is not what stands in the way.
      await user('owner-b', 'OWNER');
      const ownerSession = await mintSessionToken(core, seed.owner);
      const app = await appOf(adminToken, ['users:suspend', 'users:read']);
      const refused = await api('POST', `/users/${seed.owner.id}:suspend`, app.token);
      expect(refused.statusCode).toBe(403);
      expect(refused.json()).toEqual(
        rpc(
          7,
          'app_constraint: the app was made by an ADMIN: it may not act on OWNER or ADMIN users',
          'APP_CONSTRAINT',
          {
            constraint: 'maker_ceiling',
            role: 'OWNER',
          },
        ),
      );
      expect(await state(seed.owner.id)).toBe('ACTIVE');
      // The OWNER's sessions did not end.
      expect((await server.inject({ url: '/v1/auth/sessions/current', headers: as(ownerSession) })).statusCode).toBe(
        200,
      );
      const [entry] = await entriesOf('user.suspend', seed.owner.id);
      expect(entry).toMatchObject({ actor_type: 'app', outcome: 'refused', details: { code: 'APP_CONSTRAINT' } });

      // Another ADMIN is out of reach too; a MEMBER is not.
      const otherAdmin = await user('admin2', 'ADMIN');
      expect((await api('POST', `/users/${otherAdmin.id}:suspend`, app.token)).statusCode).toBe(403);
      expect(await state(otherAdmin.id)).toBe('ACTIVE');
      const member = await user('member');
      expect((await api('POST', `/users/${member.id}:suspend`, app.token)).statusCode).toBe(200);
      expect(await state(member.id)).toBe('SUSPENDED');

      expect(app.body.constraints).toEqual({
        allowed_group_ids: [],
        protected_roles: [],
        max_suspensions_per_hour: null,
        maker: { user_id: seed.admin.id, role: 'ADMIN' },
        maker_ceiling: {
          powerless: false,
          roles_out_of_reach: ['OWNER', 'ADMIN'],
          permissions_withheld: ['containments:release'],
        },
      });
      const shown = await api('GET', `/apps/${app.id}`, ownerToken);
      expect(shown.json().constraints).toEqual(app.body.constraints);
    },
  );

  it(
    'only an OWNER grants containments:release; an ADMIN-made ' +
      'app holding it (made before the rule) is held to the lock',
    async () => {
      const refused = await api('POST', '/apps', adminToken, {
        name: 'release-bot',
        permissions: ['users:reactivate', 'containments:release'],
      });
      expect(refused.statusCode).toBe(403);
      expect(refused.json()).toEqual(rpc(7, 'only an OWNER may grant containments:release', 'PERMISSION_DENIED'));
      expect(
        (await core.database.db.selectFrom('oauth_apps').select('id').where('name', '=', 'release-bot').execute())
          .length,
      ).toBe(0);

      // An app an ADMIN made with the permission before the rule existed: the permission does not count.
      await applyPlaybooks(core.response, testCtx, seed.accountId, [
        { name: 'contain', priority: 10, match: { types: ['esc.*'] }, action: 'suspend', mode: 'auto' },
      ]);
      const legacy = await appOf(adminToken, ['users:reactivate']);
      await core.database.db
        .updateTable('oauth_apps')
        .set({ permissions: ['users:reactivate', 'containments:release'] })
        .where('id', '=', legacy.id)
        .execute();
      const legacyToken = await appAccessToken(
        server,
        legacy.body.client_id as string,
        legacy.body.client_secret as string,
      );
      const victim = await user('victim');
      const contained = await containByEngine(victim);
      const res = await api('POST', `/users/${victim.id}:reactivate`, legacyToken);
      expect(res.json()).toEqual(
        rpc(
          9,
          'containment_locked: an open containment holds this user suspended; restore it through the containment, or ' +
            'use an app holding containments:release',
          'CONTAINMENT_LOCKED',
          {
            user_id: victim.id,
            containment_id: contained,
          },
        ),
      );
      expect(await state(victim.id)).toBe('SUSPENDED');
    },
  );

  it(
    'ADMIN → app → release under the two-person rule is a ' +
      "request that waits for a person's approval, never a bypass",
    async () => {
      await applyPlaybooks(core.response, testCtx, seed.accountId, [
        { name: 'contain', priority: 10, match: { types: ['esc.*'] }, action: 'suspend', mode: 'auto' },
      ]);
      expect(
        (await api('PUT', '/automation/restore-policy', ownerToken, { restore_approvals: 2, approver_group_id: null }))
          .statusCode,
      ).toBe(200);
      try {
        const releaser = await appOf(ownerToken, ['users:reactivate', 'containments:release']);
        const victim = await user('victim');
        const containmentId = await containByEngine(victim);

        const first = await api('POST', `/users/${victim.id}:reactivate`, releaser.token);
        expect(first.statusCode).toBe(400);
        const pending = first.json();
        expect(pending.details[0].reason).toBe('RELEASE_PENDING_APPROVAL');
        const { plan_id: planId, action_digest: digest } = pending.details[0].metadata as Record<string, string>;
        expect(pending.details[0].metadata).toEqual({
          user_id: victim.id,
          containment_id: containmentId,
          approvals_required: '2',
          plan_id: planId,
          action_digest: digest,
        });
        expect(await state(victim.id)).toBe('SUSPENDED');
        // Asking again answers the same request.
        expect(
          (await api('POST', `/users/${victim.id}:reactivate`, releaser.token)).json().details[0].metadata.plan_id,
        ).toBe(planId);

        const plan = (await api('GET', `/plans/${planId}`, adminToken)).json();
        expect(plan).toMatchObject({
          action: 'restore',
          status: 'pending_approval',
          approvals_required: 1,
          containment_id: containmentId,
          requested_by: { type: 'app', made_by: seed.owner.id },
        });
        // The maker stands behind the app's request: they may not approve it.
        const byMaker = await api('POST', `/plans/${planId}:approve`, ownerToken, {
          reason: 'mine',
          action_digest: digest,
        });
        expect(byMaker.statusCode).toBe(403);
        expect(byMaker.json().details[0]).toMatchObject({
          reason: 'NOT_AN_APPROVER',
          metadata: { reason: 'requester' },
        });
        expect(await state(victim.id)).toBe('SUSPENDED');

        const approved = await api('POST', `/plans/${planId}:approve`, adminToken, {
          reason: 'confirmed',
          action_digest: digest,
        });
        expect(approved.statusCode, approved.body).toBe(200);
        expect(approved.json().plan.status).toBe('executed');
        expect(await state(victim.id)).toBe('ACTIVE');
        const record = (await api('GET', `/containments/${containmentId}`, adminToken)).json();
        expect(record).toMatchObject({ status: 'closed', close_reason: 'restored' });
        const refusals = await entriesOf('user.reactivate', victim.id);
        expect(refusals.filter((e) => e.outcome === 'refused').map((e) => e.details)).toEqual([
          { code: 'RELEASE_NEEDS_APPROVAL' },
          { code: 'RELEASE_NEEDS_APPROVAL' },
        ]);
        expect(await entriesOf('containment.restore_request', containmentId)).toHaveLength(1);
      } finally {
        await api('PUT', '/automation/restore-policy', ownerToken, { restore_approvals: 1, approver_group_id: null });
      }
    },
  );

  it("an ADMIN may not disable or rotate an app an OWNER (or the operator) made; an ADMIN's own, yes", async () => {
    const ownersApp = await appOf(ownerToken, ['users:read']);
    for (const verb of ['disable', 'rotateSecret']) {
      const res = await api('POST', `/apps/${ownersApp.id}:${verb}`, adminToken);
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual(
        rpc(
          7,
          `only an OWNER may ${verb === 'disable' ? 'disable' : 'rotate the secret of'} an app an OWNER made`,
          'PERMISSION_DENIED',
          { app_id: ownersApp.id },
        ),
      );
    }
    const app = await core.database.db
      .selectFrom('oauth_apps')
      .selectAll()
      .where('id', '=', ownersApp.id)
      .executeTakeFirstOrThrow();
    expect(app).toMatchObject({ disabled_at: null, secret_rotated_at: null });
    expect(
      (
        await server.inject({
          url: `/v1/accounts/${seed.accountId}/users/${seed.admin.id}`,
          headers: as(ownersApp.token),
        })
      ).statusCode,
    ).toBe(200);
    expect((await entriesOf('app.disable', ownersApp.id)).map((e) => e.outcome)).toEqual(['refused']);

    const operators = await createApp(core.directory, testCtx, seed.accountId, {
      name: 'operator-made',
      permissions: ['users:read'],
    });
    expect((await api('POST', `/apps/${operators.app.id}:disable`, adminToken)).statusCode).toBe(403);

    const adminsApp = await appOf(adminToken, ['users:read']);
    expect((await api('POST', `/apps/${adminsApp.id}:disable`, adminToken)).statusCode).toBe(200);
    expect((await api('POST', `/apps/${ownersApp.id}:disable`, ownerToken)).statusCode).toBe(200);
  });

  it('maker demoted → app weakened at the next request; maker deleted → app acts on nothing', async () => {
    const secondOwner = await user('owner2', 'OWNER');
    const makerSession = await mintSessionToken(core, secondOwner);
    const app = await appOf(makerSession, ['users:suspend', 'users:list']);
    const targetAdmin = await user('target-admin', 'ADMIN');
    const path = `/users/${targetAdmin.id}:suspend`;
    // While the maker is an OWNER, the app may suspend an ADMIN.
    expect((await api('POST', path, app.token)).statusCode).toBe(200);
    expect((await api('POST', `/users/${targetAdmin.id}:reactivate`, ownerToken)).statusCode).toBe(200);

    // Demoted to ADMIN: the same token, the next request, held to an ADMIN's reach.
    expect((await api('PATCH', `/users/${secondOwner.id}`, ownerToken, { role: 'ADMIN' })).statusCode).toBe(200);
    const weakened = await api('POST', path, app.token);
    expect(weakened.statusCode).toBe(403);
    expect(weakened.json()).toEqual(
      rpc(
        7,
        'app_constraint: the app was made by an OWNER since demoted to ADMIN: it may not act on OWNER or ADMIN users',
        'APP_CONSTRAINT',
        { constraint: 'maker_ceiling', role: 'ADMIN' },
      ),
    );
    expect(await state(targetAdmin.id)).toBe('ACTIVE');
    // apps get shows the ceiling as it stands now.
    expect((await api('GET', `/apps/${app.id}`, ownerToken)).json().constraints.maker_ceiling).toEqual({
      powerless: false,
      roles_out_of_reach: ['OWNER', 'ADMIN'],
      permissions_withheld: ['containments:release'],
    });

    // Demoted to MEMBER: the app acts on nothing, reads included.
    expect((await api('PATCH', `/users/${secondOwner.id}`, ownerToken, { role: 'MEMBER' })).statusCode).toBe(200);
    const list = await api('GET', '/users', app.token);
    expect(list.statusCode).toBe(403);
    expect(list.json()).toEqual(
      rpc(
        7,
        'app_constraint: the person who made the app is no longer an OWNER or ADMIN: the app acts on nothing',
        'APP_CONSTRAINT',
        { constraint: 'maker_ceiling' },
      ),
    );

    // Deleted: the same.
    expect((await api('DELETE', `/users/${secondOwner.id}`, ownerToken)).statusCode).toBe(200);
    const gone = await api('GET', '/users', app.token);
    expect(gone.json()).toEqual(
      rpc(
        7,
        'app_constraint: the person who made the app no longer exists: the app acts on nothing',
        'APP_CONSTRAINT',
        { constraint: 'maker_ceiling' },
      ),
    );
  });

  it(
    "an ADMIN's playbook never suspends an OWNER or ADMIN; " + 'only an OWNER sets the restore and protection policies',
    async () => {
      const applied = await api('POST', '/playbooks:apply', adminToken, {
        playbooks: [{ name: 'admins-own', priority: 50, match: { types: ['adm.*'] }, action: 'suspend', mode: 'auto' }],
      });
      expect(applied.statusCode, applied.body).toBe(200);
      const targetAdmin = await user('target-admin', 'ADMIN');
      const res = await signalAbout(targetAdmin, 'adm.takeover');
      expect(res.json().plan.status).toBe('refused');
      const verdict = res.json().plan.verdicts.find((v: { step: string }) => v.step === 'protected-principals');
      expect(verdict.details.reasons).toEqual(['playbook_author:not_an_owner']);
      expect(await state(targetAdmin.id)).toBe('ACTIVE');
      const member = await user('member');
      expect((await signalAbout(member, 'adm.takeover')).json().plan.status).toBe('executed');

      for (const [path, body] of [
        ['/automation/restore-policy', { restore_approvals: 0, approver_group_id: null }],
        ['/protection-policy', { roles: [] }],
      ] as const) {
        const refused = await api('PUT', path, adminToken, body);
        expect(refused.statusCode).toBe(403);
        expect(refused.json()).toEqual(rpc(7, 'this route is for OWNER users', 'PERMISSION_DENIED'));
      }
    },
  );

  it("an ADMIN can neither put a person in the approver group nor take over an approver's credentials", async () => {
    const group = await api('POST', '/groups', ownerToken, { name: `approvers-${++n}` });
    const groupId = group.json().id as string;
    expect(
      (await api('PUT', '/automation/restore-policy', ownerToken, { restore_approvals: 2, approver_group_id: groupId }))
        .statusCode,
    ).toBe(200);
    try {
      const puppet = await user('puppet');
      const refusal = rpc(
        7,
        "only an OWNER may change the approver group's members: its members approve plans and restores",
        'PERMISSION_DENIED',
        { constraint: 'approver_group' },
      );
      const added = await api('PUT', `/groups/${groupId}/members/${puppet.id}`, adminToken);
      expect(added.statusCode).toBe(403);
      expect(added.json()).toEqual(refusal);
      const created = await api('POST', '/users', adminToken, {
        email: `puppet-${++n}@test.example`,
        display_name: 'Puppet',
        groups: [group.json().name],
      });
      expect(created.json()).toEqual(refusal);

      expect((await api('PUT', `/groups/${groupId}/members/${puppet.id}`, ownerToken)).statusCode).toBe(200);
      const reset = await api('POST', `/users/${puppet.id}:resetCredentials`, adminToken);
      expect(reset.statusCode).toBe(403);
      expect(reset.json()).toEqual(
        rpc(
          7,
          'only an OWNER may reset the credentials of a member of the approver group: its members approve plans and ' +
            'restores',
          'PERMISSION_DENIED',
          { constraint: 'approver_group' },
        ),
      );
      expect((await api('DELETE', `/groups/${groupId}/members/${puppet.id}`, adminToken)).statusCode).toBe(403);
      const members = await core.database.db
        .selectFrom('group_members')
        .select('user_id')
        .where('group_id', '=', groupId)
        .execute();
      expect(members.map((m) => m.user_id)).toEqual([puppet.id]);
    } finally {
      await api('PUT', '/automation/restore-policy', ownerToken, { restore_approvals: 1, approver_group_id: null });
    }
  });

  async function signalAbout(subject: User, type: string) {
    const detector = await createApp(core.directory, testCtx, seed.accountId, {
      name: `siem-${++n}`,
      permissions: ['signals:write'],
    });
    const token = await appAccessToken(server, detector.app.client_id, detector.clientSecret!);
    return server.inject({
      method: 'POST',
      url: `/v1/accounts/${seed.accountId}/signals`,
      headers: as(token),
      payload: { external_id: `esc-${++n}`, type, severity: 'high', confidence: 0.9, subject: { user_id: subject.id } },
    });
  }

  /** Suspends a user through the engine (a locked containment); returns the record's id. */
  async function containByEngine(victim: User): Promise<string> {
    const res = await signalAbout(victim, 'esc.takeover');
    expect(res.json().plan.status, res.body).toBe('executed');
    return res.json().plan.verdicts.find((v: { step: string }) => v.step === 'execute').details
      .containment_id as string;
  }
});

describe('the maker ceiling', () => {
  it('is the lower of the maker role then and now', async () => {
    const { makerCeiling } = await import('../../src/oauth/maker-ceiling.js');
    expect(makerCeiling({ user_id: null, role_then: null, role_now: null }).roles_out_of_reach).toEqual([]);
    expect(makerCeiling({ user_id: 'u', role_then: 'OWNER', role_now: 'OWNER' }).roles_out_of_reach).toEqual([]);
    expect(makerCeiling({ user_id: 'u', role_then: 'ADMIN', role_now: 'OWNER' }).roles_out_of_reach).toEqual([
      'OWNER',
      'ADMIN',
    ]);
    expect(makerCeiling({ user_id: 'u', role_then: 'OWNER', role_now: 'ADMIN' }).roles_out_of_reach).toEqual([
      'OWNER',
      'ADMIN',
    ]);
    expect(makerCeiling({ user_id: 'u', role_then: 'OWNER', role_now: 'MEMBER' }).powerless).toBe(true);
    expect(makerCeiling({ user_id: 'u', role_then: 'OWNER', role_now: null }).powerless).toBe(true);
  });
});
