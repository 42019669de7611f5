import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { resetCredentials, type NewCredentials } from '../../src/directory/credentials.js';
import { timeStep, totpCode } from '../../src/directory/totp.js';
import { base32Decode } from '../../src/base32.js';
import { addMember, createGroup } from '../../src/directory/groups.js';
import { createUser } from '../../src/directory/users.js';
import { createApp } from '../../src/oauth/apps.js';
import { applyPlaybooks } from '../../src/response/playbooks.js';
import { describeBackends } from '../support/backends.js';
import { useServer } from '../support/server.js';
import {
  appAccessToken,
  auditTrail,
  choosePassword,
  mintSessionToken,
  rpc,
  seedAccount,
  type SeededAccount,
  testCtx,
} from '../support/fixtures.js';

describeBackends('containment: approvals, records, restores, the lock', (backend) => {
  let core: Core;
  let server: FastifyInstance;
  let seed: SeededAccount;
  let ownerToken: string;
  let adminToken: string;
  let detectorToken: string;
  let groups: { staff: string; finance: string; approvers: string };
  let n = 0;

  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  const api = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, token: string, payload?: unknown) =>
    server.inject({
      method,
      url: `/v1/accounts/${seed.accountId}${path}`,
      headers: as(token),
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
  const person = async (name: string, role: 'MEMBER' | 'ADMIN' = 'MEMBER', inGroups: string[] = []) => {
    const user = await createUser(core.directory, testCtx, seed.accountId, {
      email: `${name}@test.example`,
      display_name: name,
      role,
    });
    for (const g of inGroups) await addMember(core.directory, testCtx, seed.accountId, g, user.id);
    const { credentials } = await resetCredentials(core.directory, testCtx, seed.accountId, user.id);
    return { ...user, creds: { ...credentials, password: await choosePassword(core, user) } };
  };
  const signIn = (email: string, creds: NewCredentials, offset = 0) =>
    server.inject({
      method: 'POST',
      url: '/v1/auth/sessions',
      payload: {
        account_id: seed.accountId,
        email,
        password: creds.password,
        totp: totpCode(base32Decode(creds.totpSecret), timeStep(Date.now() / 1000) + offset),
        kind: 'cli',
      },
    });
  /** A signal about `email` that the given playbook type matches. */
  const signal = (email: string, type: string) =>
    server.inject({
      method: 'POST',
      url: `/v1/accounts/${seed.accountId}/signals`,
      headers: as(detectorToken),
      payload: {
        external_id: `alert-${++n}`,
        type,
        title: 'test alert',
        severity: 'high',
        confidence: 0.9,
        subject: { email },
      },
    });
  const state = async (userId: string) =>
    (await core.database.db.selectFrom('users').select('state').where('id', '=', userId).executeTakeFirstOrThrow())
      .state;
  const memberships = async (userId: string) =>
    (
      await core.database.db
        .selectFrom('group_members')
        .select('group_id')
        .where('user_id', '=', userId)
        .orderBy('group_id')
        .execute()
    ).map((r) => r.group_id);

  // The worker runs only when a test calls its pass(): no timing in these tests.
  const suite = useServer(backend, {
    env: {
      CORDON_OAUTH_RATE_PER_CLIENT: '0',
      CORDON_SIGN_IN_RATE_PER_ADDRESS: '0',
      CORDON_RESTORE_WORKER_INTERVAL_MS: '600000',
    },
  });

  beforeAll(async () => {
    ({ core, server } = suite);
    seed = await seedAccount(core, 1);
    groups = {
      staff: (await createGroup(core.directory, testCtx, seed.accountId, 'Staff-2')).id,
      finance: (await createGroup(core.directory, testCtx, seed.accountId, 'Finance')).id,
      approvers: (await createGroup(core.directory, testCtx, seed.accountId, 'Approvers')).id,
    };
    await applyPlaybooks(core.response, testCtx, seed.accountId, [
      { name: 'auto-contain', priority: 10, match: { types: ['auto.*'] }, action: 'suspend', mode: 'auto' },
      { name: 'ask-one', priority: 10, match: { types: ['ask1.*'] }, action: 'suspend', mode: 'approval' },
      {
        name: 'ask-two',
        priority: 10,
        match: { types: ['ask2.*'] },
        action: 'suspend',
        mode: 'approval',
        approvals: 2,
      },
      {
        name: 'unlocked',
        priority: 10,
        match: { types: ['unlocked.*'] },
        action: 'suspend',
        mode: 'auto',
        lock: false,
      },
      {
        name: 'timed',
        priority: 10,
        match: { types: ['timed.*'] },
        action: 'suspend',
        mode: 'auto',
        restore_after: '1h',
      },
    ]);
    ownerToken = await mintSessionToken(core, seed.owner);
    adminToken = await mintSessionToken(core, seed.admin);
    const detector = await createApp(core.directory, testCtx, seed.accountId, {
      name: 'siem',
      permissions: ['signals:write'],
    });
    detectorToken = await appAccessToken(server, detector.app.client_id, detector.clientSecret!);
  });

  it(
    'restores to the state of now: a membership removed during the containment ' +
      'stays removed, no old session or token works, a sign-in attempt during it failed',
    async () => {
      const victim = await person('victim', 'MEMBER', [groups.staff, groups.finance]);
      const signedIn = await signIn(victim.email, victim.creds);
      expect(signedIn.statusCode, signedIn.body).toBe(201);
      const oldToken = signedIn.json().session_token as string;
      expect((await server.inject({ url: '/v1/auth/sessions/current', headers: as(oldToken) })).statusCode).toBe(200);

      const res = await signal(victim.email, 'auto.impossible-travel');
      expect(res.json().plan.status).toBe('executed');
      const containmentId = res.json().plan.verdicts.find((v: { step: string }) => v.step === 'execute').details
        .containment_id as string;
      // The plan names the record it opened, as its execute verdict does, in the response and when read back.
      expect(res.json().plan.containment_id).toEqual(expect.stringMatching(/^[A-Z2-7]{26}$/));
      expect(res.json().plan.containment_id).toBe(containmentId);
      expect((await api('GET', `/plans/${res.json().plan.id}`, adminToken)).json().containment_id).toBe(containmentId);
      const record = await api('GET', `/containments/${containmentId}`, adminToken);
      expect(record.json()).toMatchObject({
        id: containmentId,
        user_id: victim.id,
        plan_id: res.json().plan.id,
        locked: true,
        status: 'open',
        snapshot: {
          state: 'ACTIVE',
          role: 'MEMBER',
          group_ids: [groups.staff, groups.finance].sort(),
          sessions_revoked: [signedIn.json().session_id],
        },
        cause: {
          signal_id: res.json().signal.id,
          plan_id: res.json().plan.id,
          playbook: 'auto-contain',
          playbook_version: 1,
        },
        opened_by: { actor: { type: 'responder', id: 'cordon' } },
        close_reason: null,
      });

      // During the containment: a membership goes, the old token is replayed, a new sign-in is tried.
      expect((await api('DELETE', `/groups/${groups.finance}/members/${victim.id}`, adminToken)).statusCode).toBe(200);
      expect((await server.inject({ url: '/v1/auth/sessions/current', headers: as(oldToken) })).statusCode).toBe(401);
      const attempt = await signIn(victim.email, victim.creds, 1);
      expect(attempt.statusCode).toBe(403);
      expect(attempt.json().details[0].reason).toBe('USER_SUSPENDED');

      const restored = await api('POST', `/containments/${containmentId}:restore`, adminToken, {});
      expect(restored.statusCode, restored.body).toBe(200);
      expect(restored.json()).toMatchObject({
        status: 'restored',
        plan: {
          action: 'restore',
          status: 'executed',
          containment_id: containmentId,
          approvals_required: 1,
          requested_by: { type: 'user', id: seed.admin.id },
        },
        containment: { status: 'closed', close_reason: 'restored' },
        drift: { role: null, groups_removed: [groups.finance], groups_added: [] },
        verification: {
          active: true,
          no_session_from_before: true,
          memberships_as_now: true,
          removed_memberships_stay_removed: true,
          stale_plans_void: true,
        },
      });
      expect(await state(victim.id)).toBe('ACTIVE');
      expect(await memberships(victim.id)).toEqual([groups.staff]);
      expect((await server.inject({ url: '/v1/auth/sessions/current', headers: as(oldToken) })).statusCode).toBe(401);
      // The user signs in anew; nothing of before comes back.
      expect((await signIn(victim.email, victim.creds, 1)).statusCode).toBe(201);

      const trail = await auditTrail(core, seed.accountId);
      const entry = trail.find((e) => e.action === 'containment.restore' && e.target_id === containmentId)!;
      expect(entry).toMatchObject({
        actor_type: 'responder',
        outcome: 'changed',
        details: { user_id: victim.id, reason: 'restored', drift: { groups_removed: [groups.finance] } },
      });
      expect(entry.cause).toMatchObject({
        containment_id: containmentId,
        approvals: [{ approver_id: seed.admin.id, reason: 'requested: restored' }],
      });
      const reactivation = trail.find((e) => e.action === 'user.reactivate' && e.target_id === victim.id)!;
      expect(reactivation).toMatchObject({ actor_type: 'responder', details: { containment_id: containmentId } });
      // A closed record cannot be restored twice.
      expect((await api('POST', `/containments/${containmentId}:restore`, adminToken, {})).json()).toEqual(
        rpc(9, 'containment_closed: the containment is already closed', 'CONTAINMENT_CLOSED', {
          containment_id: containmentId,
        }),
      );
    },
  );

  it(
    'the lock holds against :reactivate from an ordinary app and ' +
      'gives way to one holding containments:release; both audited',
    async () => {
      const victim = await person('locked');
      const res = await signal(victim.email, 'auto.malware');
      const containmentId = res.json().plan.verdicts.find((v: { step: string }) => v.step === 'execute').details
        .containment_id as string;
      const ordinary = await createApp(core.directory, testCtx, seed.accountId, {
        name: 'soar',
        permissions: ['users:reactivate'],
      });
      const releaser = await createApp(core.directory, testCtx, seed.accountId, {
        name: 'ir-tool',
        permissions: ['users:reactivate', 'containments:release'],
      });
      const reactivate = async (app: typeof ordinary) =>
        server.inject({
          method: 'POST',
          url: `/v1/accounts/${seed.accountId}/users/${victim.id}:reactivate`,
          headers: as(await appAccessToken(server, app.app.client_id, app.clientSecret!)),
        });

      const refused = await reactivate(ordinary);
      expect(refused.statusCode).toBe(400);
      expect(refused.json()).toEqual(
        rpc(
          9,
          'containment_locked: an open containment holds this user suspended; restore it through the containment, or ' +
            'use an app holding containments:release',
          'CONTAINMENT_LOCKED',
          {
            user_id: victim.id,
            containment_id: containmentId,
          },
        ),
      );
      expect(await state(victim.id)).toBe('SUSPENDED');
      // A person's console reactivation is held too: the way back is the restore.
      expect((await api('POST', `/users/${victim.id}:reactivate`, adminToken)).json().details[0].reason).toBe(
        'CONTAINMENT_LOCKED',
      );

      const released = await reactivate(releaser);
      expect(released.statusCode, released.body).toBe(200);
      expect(await state(victim.id)).toBe('ACTIVE');
      expect((await api('GET', `/containments/${containmentId}`, adminToken)).json()).toMatchObject({
        status: 'closed',
        close_reason: 'released',
        closed_by: { actor: { type: 'app', id: releaser.app.client_id } },
      });

      const trail = (await auditTrail(core, seed.accountId)).filter(
        (e) => e.action === 'user.reactivate' && e.target_id === victim.id,
      );
      expect(trail.map((e) => [e.actor_id, e.outcome, (e.details as { code?: string }).code ?? null])).toEqual([
        [ordinary.app.client_id, 'refused', 'CONTAINMENT_LOCKED'],
        [seed.admin.id, 'refused', 'CONTAINMENT_LOCKED'],
        [releaser.app.client_id, 'changed', null],
      ]);
      expect(trail[2]!.details).toMatchObject({ containment_id: containmentId });
    },
  );

  it(
    'a playbook may leave its containment unlocked; a Users API ' +
      'suspension opens an unlocked record that :reactivate closes',
    async () => {
      const a = await person('unlocked-a');
      const res = await signal(a.email, 'unlocked.x');
      expect(res.json().plan.status).toBe('executed');
      expect((await api('POST', `/users/${a.id}:reactivate`, adminToken)).statusCode).toBe(200);

      const b = await person('by-hand');
      expect((await api('POST', `/users/${b.id}:suspend`, adminToken)).statusCode).toBe(200);
      const [record] = (await api('GET', '/containments?status=open', adminToken))
        .json()
        .containments.filter((c: { user_id: string }) => c.user_id === b.id);
      expect(record).toMatchObject({
        plan_id: null,
        locked: false,
        opened_by: { actor: { type: 'user', id: seed.admin.id } },
      });
      expect((await api('POST', `/users/${b.id}:reactivate`, adminToken)).statusCode).toBe(200);
      expect((await api('GET', `/containments/${record.id}`, adminToken)).json()).toMatchObject({
        status: 'closed',
        close_reason: 'reactivated',
      });

      // Deleting a contained user closes the record: nobody is left to restore.
      const c = await person('deleted-while-contained');
      expect((await api('POST', `/users/${c.id}:suspend`, adminToken)).statusCode).toBe(200);
      const open = (await api('GET', '/containments?status=open', adminToken))
        .json()
        .containments.find((x: { user_id: string }) => x.user_id === c.id);
      expect((await api('DELETE', `/users/${c.id}`, adminToken)).statusCode).toBe(200);
      expect((await api('GET', `/containments/${open.id}`, adminToken)).json()).toMatchObject({
        status: 'closed',
        close_reason: 'deleted',
        closed_by: { actor: { type: 'user', id: seed.admin.id } },
      });
      const deletion = (await auditTrail(core, seed.accountId)).find(
        (e) => e.action === 'user.delete' && e.target_id === c.id,
      )!;
      expect(deletion.details).toMatchObject({ containment_closed: open.id });
    },
  );

  it(
    'approvals: only eligible people, bound to the ' + 'digest, N distinct people; the last approval executes',
    async () => {
      const subject = await person('approvee', 'ADMIN');
      const member = await person('plain-member');
      const approverMember = await person('approver-member', 'MEMBER', [groups.approvers]);
      const subjectToken = await mintSessionToken(core, subject);
      const memberToken = await mintSessionToken(core, member);
      const approverToken = await mintSessionToken(core, approverMember);
      const res = await signal(subject.email, 'ask2.phish');
      const plan = res.json().plan;
      expect(plan).toMatchObject({ status: 'pending_approval', approvals_required: 2, requested_by: { type: 'app' } });
      expect(await state(subject.id)).toBe('ACTIVE');
      const decide = (token: string, verb: 'approve' | 'deny', digest = plan.action_digest as string) =>
        api('POST', `/plans/${plan.id}:${verb}`, token, { reason: 'looks real', action_digest: digest });

      expect((await decide(subjectToken, 'approve')).json().details[0]).toMatchObject({
        reason: 'NOT_AN_APPROVER',
        metadata: { reason: 'subject' },
      });
      expect((await decide(memberToken, 'approve')).json().details[0]).toMatchObject({
        reason: 'NOT_AN_APPROVER',
        metadata: { reason: 'role' },
      });
      expect((await decide(adminToken, 'approve', '0'.repeat(64))).json().details[0].reason).toBe('DIGEST_MISMATCH');
      const byApp = await api('POST', `/plans/${plan.id}:approve`, detectorToken, {
        reason: 'x',
        action_digest: plan.action_digest,
      });
      expect([byApp.statusCode, byApp.json()]).toEqual([
        403,
        rpc(
          7,
          'session_required: only a person may do this: sign in (POST /v1/auth/sessions) and use the session token; ' +
            "an app's access token is not accepted here",
          'SESSION_REQUIRED',
        ),
      ]);

      const first = await decide(adminToken, 'approve');
      expect(first.statusCode, first.body).toBe(200);
      expect(first.json().plan.status).toBe('pending_approval');
      expect((await decide(adminToken, 'approve')).json().details[0]).toMatchObject({
        reason: 'NOT_AN_APPROVER',
        metadata: { reason: 'already_decided' },
      });
      expect(await state(subject.id)).toBe('ACTIVE');

      // The approver group is set: a MEMBER in it may approve.
      expect(
        (
          await api('PUT', '/automation/restore-policy', ownerToken, {
            restore_approvals: 1,
            approver_group_id: groups.approvers,
          })
        ).statusCode,
      ).toBe(200);
      expect((await api('GET', '/approvals', memberToken)).statusCode).toBe(403);
      const listed = (await api('GET', '/approvals', approverToken)).json().plans;
      // Each with whom it is about and why, by name: what an approver needs to decide.
      expect(listed.find((p: { id: string }) => p.id === plan.id)).toMatchObject({
        subject_user_id: subject.id,
        subject: { email: subject.email, display_name: subject.display_name },
        signal: { title: 'test alert', severity: 'high' },
      });
      const second = await decide(approverToken, 'approve');
      expect(second.statusCode, second.body).toBe(200);
      expect(second.json().plan).toMatchObject({ status: 'executed' });
      const opened = (
        second.json().plan.verdicts as Array<{ step: string; details?: { containment_id?: string } }>
      ).find((v) => v.step === 'execute')!.details!.containment_id;
      expect(second.json().plan.containment_id).toEqual(expect.stringMatching(/^[A-Z2-7]{26}$/));
      expect(second.json().plan.containment_id).toBe(opened);
      expect(
        second
          .json()
          .decisions.map((d: { approver_id: string }) => d.approver_id)
          .sort(),
      ).toEqual([seed.admin.id, approverMember.id].sort());
      expect(await state(subject.id)).toBe('SUSPENDED');
      const suspension = (await auditTrail(core, seed.accountId)).find(
        (e) => e.action === 'user.suspend' && e.target_id === subject.id,
      )!;
      expect(suspension).toMatchObject({
        actor_type: 'responder',
        authz: { method: 'approved_plan', plan_id: plan.id, action_digest: plan.action_digest },
      });
      expect(
        (suspension.cause as { approvals: Array<{ approver_id: string }> }).approvals.map((a) => a.approver_id).sort(),
      ).toEqual([seed.admin.id, approverMember.id].sort());
      // Used once: the plan is final.
      expect((await decide(ownerToken, 'approve')).json().details[0]).toMatchObject({
        reason: 'PLAN_NOT_PENDING',
        metadata: { status: 'executed' },
      });

      // The chain, as the API serves it: who asked under which token, both approvals, who executed, the outcome.
      let chain;
      for (let tries = 0; tries < 100; tries++) {
        chain = (await api('GET', `/explain/${plan.id}`, adminToken)).json();
        if (chain.action && chain.proof) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(chain).toMatchObject({
        kind: 'plan',
        signal: { id: res.json().signal.id, type: 'ask2.phish' },
        submitted_by: { actor: { type: 'app' }, authz: { method: 'bearer', permissions: ['signals:write'] } },
        playbook: { name: 'ask-two', version: 1 },
        plan: { id: plan.id, status: 'executed' },
        action: {
          action: 'user.suspend',
          actor_type: 'responder',
          authz: { method: 'approved_plan', action_digest: plan.action_digest },
          target_id: subject.id,
        },
        outcome: { plan_status: 'executed', user_state: 'SUSPENDED', containment: { status: 'open', locked: true } },
        proof: { entry: chain.action },
      });
      expect(
        chain.approvals.map((a: { approver_id: string; reason: string }) => [a.approver_id, a.reason]).sort(),
      ).toEqual(
        [
          [seed.admin.id, 'looks real'],
          [approverMember.id, 'looks real'],
        ].sort(),
      );
      expect((await api('GET', '/explain/AAAAAAAAAAAAAAAAAAAAAAAAAA', adminToken)).statusCode).toBe(404);
    },
  );

  it('denials, expiries and void plans are final and audited', async () => {
    const [d, e, v, w] = [
      await person('deny-me'),
      await person('expire-me'),
      await person('void-me'),
      await person('expire-by-job'),
    ];
    const pending = async (who: { email: string }) =>
      (await signal(who.email, 'ask1.x')).json().plan as { id: string; action_digest: string };
    const [pd, pe, pv, pw] = [await pending(d), await pending(e), await pending(v), await pending(w)];
    const decide = (plan: { id: string; action_digest: string }, verb: string) =>
      api('POST', `/plans/${plan.id}:${verb}`, adminToken, { reason: 'r', action_digest: plan.action_digest });

    expect((await decide(pd, 'deny')).json().plan.status).toBe('denied');
    await sql`UPDATE plans SET expires_at = now() - interval '1 second' WHERE id IN (${pe.id}, ${pw.id})`.execute(
      core.database.db,
    );
    expect((await decide(pe, 'approve')).json().details[0].reason).toBe('PLAN_EXPIRED');
    expect(await core.containmentWorker.pass()).toEqual({ expired: 1, restores: 0 });
    await applyPlaybooks(core.response, testCtx, seed.accountId, [
      {
        name: 'ask-one',
        priority: 10,
        match: { types: ['ask1.*'] },
        action: 'suspend',
        mode: 'approval',
        dedup_window: '2h',
      },
    ]);
    // A new version of the playbook voids its pending plans at once (and a decision would check again).
    expect((await decide(pv, 'approve')).json().details[0]).toMatchObject({
      reason: 'PLAN_NOT_PENDING',
      metadata: { status: 'void' },
    });
    for (const who of [d, e, v, w]) expect(await state(who.id)).toBe('ACTIVE');
    const statuses = Object.fromEntries(
      (
        await core.database.db
          .selectFrom('plans')
          .select(['id', 'status'])
          .where('id', 'in', [pd.id, pe.id, pv.id, pw.id])
          .execute()
      ).map((p) => [p.id, p.status]),
    );
    expect(statuses).toEqual({ [pd.id]: 'denied', [pe.id]: 'expired', [pv.id]: 'void', [pw.id]: 'expired' });
    const trail = await auditTrail(core, seed.accountId);
    const ended = (id: string) =>
      trail.filter((x) => x.target_id === id && x.outcome === 'changed').map((x) => [x.action, x.actor_id]);
    expect(ended(pd.id)).toEqual([
      ['plan.create', 'cordon'],
      ['plan.deny', seed.admin.id],
    ]);
    expect(ended(pe.id)).toEqual([
      ['plan.create', 'cordon'],
      ['plan.expire', seed.admin.id],
    ]);
    expect(ended(pv.id)).toEqual([
      ['plan.create', 'cordon'],
      ['plan.void', 'tester@test'],
    ]);
    expect(ended(pw.id)).toEqual([
      ['plan.create', 'cordon'],
      ['plan.expire', 'approval-expiry'],
    ]);
  });

  it(
    'the two-person rule for restores; a false positive frees its breaker ' +
      'slot and marks the signal; restore-after runs as a job under the policy',
    async () => {
      expect(
        (await api('PUT', '/automation/restore-policy', ownerToken, { restore_approvals: 2, approver_group_id: null }))
          .statusCode,
      ).toBe(200);
      const victim = await person('two-person');
      const res = await signal(victim.email, 'auto.x');
      const containmentId = res.json().plan.verdicts.find((v: { step: string }) => v.step === 'execute').details
        .containment_id as string;
      const usedSlots = async () =>
        Number(
          (
            await sql<{
              n: string;
            }>`SELECT count(*) AS n FROM breaker_slots WHERE plan_id = ${res.json().plan.id}`.execute(core.database.db)
          ).rows[0]!.n,
        );
      expect(await usedSlots()).toBe(1);

      const asked = await api('POST', `/containments/${containmentId}:restore`, adminToken, {
        reason: 'false_positive',
      });
      expect(asked.json()).toMatchObject({
        status: 'pending_approval',
        plan: { action: 'restore', approvals_required: 2, status: 'pending_approval' },
        containment: { status: 'open' },
      });
      const restorePlan = asked.json().plan;
      expect(
        (
          await api('POST', `/plans/${restorePlan.id}:approve`, adminToken, {
            reason: 'again',
            action_digest: restorePlan.action_digest,
          })
        ).json().details[0].metadata.reason,
      ).toBe('requester');
      expect(await state(victim.id)).toBe('SUSPENDED');
      const done = await api('POST', `/plans/${restorePlan.id}:approve`, ownerToken, {
        reason: 'confirmed benign',
        action_digest: restorePlan.action_digest,
      });
      expect(done.statusCode, done.body).toBe(200);
      expect(done.json().plan.status).toBe('executed');
      expect(await state(victim.id)).toBe('ACTIVE');
      expect((await api('GET', `/containments/${containmentId}`, adminToken)).json()).toMatchObject({
        status: 'closed',
        close_reason: 'false_positive',
      });
      expect(await usedSlots()).toBe(0);
      const marked = await core.database.db
        .selectFrom('signals')
        .select('false_positive_at')
        .where('id', '=', res.json().signal.id)
        .executeTakeFirstOrThrow();
      expect(marked.false_positive_at).not.toBeNull();

      // restore-after: with the default policy (1 person) the job asks; with 0 it restores by itself.
      const timed = [await person('timed-1'), await person('timed-2')];
      const records: string[] = [];
      for (const who of timed)
        records.push(
          (await signal(who.email, 'timed.x')).json().plan.verdicts.find((v: { step: string }) => v.step === 'execute')
            .details.containment_id,
        );
      await sql`UPDATE containments SET restore_after = now() - interval '1 second' WHERE id = ${records[0]!}`.execute(
        core.database.db,
      );
      expect(
        (await api('PUT', '/automation/restore-policy', ownerToken, { restore_approvals: 1, approver_group_id: null }))
          .statusCode,
      ).toBe(200);
      expect(await core.containmentWorker.pass()).toEqual({ expired: 0, restores: 1 });
      expect(await state(timed[0]!.id)).toBe('SUSPENDED');
      const waiting = (await api('GET', '/approvals', adminToken))
        .json()
        .plans.find((p: { containment_id: string }) => p.containment_id === records[0]);
      expect(waiting).toMatchObject({
        action: 'restore',
        requested_by: { type: 'system', id: 'restore-after' },
        approvals_required: 1,
      });
      expect(await core.containmentWorker.pass()).toEqual({ expired: 0, restores: 0 });

      expect(
        (await api('PUT', '/automation/restore-policy', ownerToken, { restore_approvals: 0, approver_group_id: null }))
          .statusCode,
      ).toBe(200);
      await sql`UPDATE containments SET restore_after = now() - interval '1 second' WHERE id = ${records[1]!}`.execute(
        core.database.db,
      );
      expect(await core.containmentWorker.pass()).toEqual({ expired: 0, restores: 1 });
      expect(await state(timed[1]!.id)).toBe('ACTIVE');
      expect((await api('GET', `/containments/${records[1]}`, adminToken)).json()).toMatchObject({
        status: 'closed',
        close_reason: 'restored',
      });
    },
  );

  it(
    'a restore that does not verify rolls back and is audited; ' +
      'a restore plan whose containment closed another way is void',
    async () => {
      expect(
        (await api('PUT', '/automation/restore-policy', ownerToken, { restore_approvals: 1, approver_group_id: null }))
          .statusCode,
      ).toBe(200);
      const victim = await person('sneaky');
      const res = await signal(victim.email, 'auto.y');
      const containmentId = res.json().plan.verdicts.find((v: { step: string }) => v.step === 'execute').details
        .containment_id as string;
      // A live session that got in while the user was suspended (a bypass): the restore must not bless it.
      await mintSessionToken(core, victim);
      const refused = await api('POST', `/containments/${containmentId}:restore`, adminToken, {});
      expect(refused.statusCode).toBe(409);
      expect(refused.json()).toEqual(
        rpc(10, 'restore_unverified: the restore did not verify and was rolled back', 'RESTORE_UNVERIFIED', {
          containment_id: containmentId,
          failed: 'no_session_from_before',
        }),
      );
      expect(await state(victim.id)).toBe('SUSPENDED');
      expect((await api('GET', `/containments/${containmentId}`, adminToken)).json()).toMatchObject({ status: 'open' });
      const trail = await auditTrail(core, seed.accountId);
      expect(
        trail
          .filter((e) => e.action === 'containment.restore' && e.target_id === containmentId)
          .map((e) => [e.outcome, (e.details as { code: string }).code]),
      ).toEqual([['refused', 'RESTORE_UNVERIFIED']]);
      expect(trail.some((e) => e.action === 'user.reactivate' && e.target_id === victim.id)).toBe(false);

      // Two people needed; meanwhile the policy goes back to one and an app holding containments:release
      // reactivates (under two, its release would wait too): the restore plan is void.
      expect(
        (await api('PUT', '/automation/restore-policy', ownerToken, { restore_approvals: 2, approver_group_id: null }))
          .statusCode,
      ).toBe(200);
      const asked = (await api('POST', `/containments/${containmentId}:restore`, adminToken, {})).json();
      expect(asked.status).toBe('pending_approval');
      expect(
        (await api('PUT', '/automation/restore-policy', ownerToken, { restore_approvals: 1, approver_group_id: null }))
          .statusCode,
      ).toBe(200);
      await sql`UPDATE sessions SET revoked_at = now() WHERE user_id = ${victim.id}`.execute(core.database.db);
      const releaser = await createApp(core.directory, testCtx, seed.accountId, {
        name: 'releaser',
        permissions: ['users:reactivate', 'containments:release'],
      });
      const token = await appAccessToken(server, releaser.app.client_id, releaser.clientSecret!);
      expect(
        (
          await server.inject({
            method: 'POST',
            url: `/v1/accounts/${seed.accountId}/users/${victim.id}:reactivate`,
            headers: as(token),
          })
        ).statusCode,
      ).toBe(200);
      const late = await api('POST', `/plans/${asked.plan.id}:approve`, ownerToken, {
        reason: 'ok',
        action_digest: asked.plan.action_digest,
      });
      expect(late.json()).toEqual(
        rpc(
          9,
          'plan_void: the playbook, policy or containment behind this plan changed; the plan is void',
          'PLAN_VOID',
          {
            plan_id: asked.plan.id,
          },
        ),
      );
      expect(
        (
          await core.database.db
            .selectFrom('plans')
            .select('status')
            .where('id', '=', asked.plan.id)
            .executeTakeFirstOrThrow()
        ).status,
      ).toBe('void');
      expect(
        (await api('PUT', '/automation/restore-policy', ownerToken, { restore_approvals: 1, approver_group_id: null }))
          .statusCode,
      ).toBe(200);
    },
  );

  it('a restore, a release and an approval racing on one user: no 5xx, no deadlock, one consistent end', async () => {
    const releaser = await createApp(core.directory, testCtx, seed.accountId, {
      name: 'racer',
      permissions: ['users:reactivate', 'containments:release'],
    });
    const token = await appAccessToken(server, releaser.app.client_id, releaser.clientSecret!);
    for (let round = 0; round < 6; round++) {
      const victim = await person(`race-${round}`);
      const res = await signal(victim.email, 'auto.z');
      const containmentId = res.json().plan.verdicts.find((v: { step: string }) => v.step === 'execute').details
        .containment_id as string;
      const pending = (await signal(victim.email, 'ask1.z')).json().plan;
      expect(pending.status).toBe('pending_approval');
      const replies = await Promise.all([
        api('POST', `/containments/${containmentId}:restore`, adminToken, {}),
        server.inject({
          method: 'POST',
          url: `/v1/accounts/${seed.accountId}/users/${victim.id}:reactivate`,
          headers: as(token),
        }),
        api('POST', `/plans/${pending.id}:approve`, ownerToken, {
          reason: 'race',
          action_digest: pending.action_digest,
        }),
      ]);
      for (const reply of replies) expect(reply.statusCode, reply.body).toBeLessThan(500);
      const record = (await api('GET', `/containments/${containmentId}`, adminToken)).json();
      expect(record.status).toBe('closed');
      const plan = await core.database.db
        .selectFrom('plans')
        .select('status')
        .where('id', '=', pending.id)
        .executeTakeFirstOrThrow();
      // The pending suspension was approved while the user was still contained (no action), or voided by the restore,
      // or it suspended the user again after a release.
      expect(['no_action', 'void', 'executed']).toContain(plan.status);
      expect(await state(victim.id)).toBe(plan.status === 'executed' ? 'SUSPENDED' : 'ACTIVE');
    }
  });

  it(
    'two restore plans of one containment approved at once: ' + 'one restores, the other is void (not left pending)',
    async () => {
      expect(
        (await api('PUT', '/automation/restore-policy', ownerToken, { restore_approvals: 2, approver_group_id: null }))
          .statusCode,
      ).toBe(200);
      const admins = [await person('adm-a', 'ADMIN'), await person('adm-b', 'ADMIN'), await person('adm-c', 'ADMIN')];
      const [a, b, c] = await Promise.all(admins.map((x) => mintSessionToken(core, x)));
      for (let round = 0; round < 3; round++) {
        const victim = await person(`twice-${round}`);
        const containmentId = (await signal(victim.email, 'auto.w'))
          .json()
          .plan.verdicts.find((v: { step: string }) => v.step === 'execute').details.containment_id as string;
        const first = (await api('POST', `/containments/${containmentId}:restore`, a!, {})).json().plan;
        const second = (await api('POST', `/containments/${containmentId}:restore`, b!, {})).json().plan;
        const replies = await Promise.all([
          api('POST', `/plans/${first.id}:approve`, c!, { reason: 'ok', action_digest: first.action_digest }),
          api('POST', `/plans/${second.id}:approve`, ownerToken, { reason: 'ok', action_digest: second.action_digest }),
        ]);
        const reasons = replies.map((r) => (r.statusCode === 200 ? 'restored' : r.json().details[0].reason)).sort();
        expect(reasons).toEqual(['PLAN_VOID', 'restored']);
        const statuses = (
          await core.database.db.selectFrom('plans').select('status').where('id', 'in', [first.id, second.id]).execute()
        )
          .map((p) => p.status)
          .sort();
        expect(statuses).toEqual(['executed', 'void']);
        expect(await state(victim.id)).toBe('ACTIVE');
      }
      expect(
        (await api('PUT', '/automation/restore-policy', ownerToken, { restore_approvals: 1, approver_group_id: null }))
          .statusCode,
      ).toBe(200);
    },
  );

  describe('separation', () => {
    it(
      'no app can approve, deny, restore or dry-run, whatever it holds: ' +
        '403 SESSION_REQUIRED (it did authenticate); a bad token is 401',
      async () => {
        const everything = await createApp(core.directory, testCtx, seed.accountId, {
          name: 'all',
          permissions: ['users:suspend', 'users:reactivate', 'containments:release', 'signals:write', 'audit:read'],
        });
        const token = await appAccessToken(server, everything.app.client_id, everything.clientSecret!);
        const paths = [
          '/plans/AAAAAAAAAAAAAAAAAAAAAAAAAA:approve',
          '/plans/AAAAAAAAAAAAAAAAAAAAAAAAAA:deny',
          '/containments/AAAAAAAAAAAAAAAAAAAAAAAAAA:restore',
          '/signals:plan',
        ];
        for (const path of paths) {
          const res = await api('POST', path, token, { reason: 'x', action_digest: '0'.repeat(64) });
          expect([res.statusCode, res.json()]).toEqual([
            403,
            rpc(
              7,
              'session_required: only a person may do this: sign in (POST /v1/auth/sessions) and use the session ' +
                "token; an app's access token is not accepted here",
              'SESSION_REQUIRED',
            ),
          ]);
          const forged = await api('POST', path, `${token.slice(0, -4)}AAAA`, {
            reason: 'x',
            action_digest: '0'.repeat(64),
          });
          expect(forged.statusCode).toBe(401);
        }
        // Refused as the app it is: in the account's log, under the app.
        const refusals = (await auditTrail(core, seed.accountId)).filter(
          (e) => e.actor_id === everything.app.client_id && e.outcome === 'refused',
        );
        expect(refusals.map((e) => [e.target_type, e.details])).toEqual([
          ['plan', { code: 'SESSION_REQUIRED' }],
          ['plan', { code: 'SESSION_REQUIRED' }],
          ['containment', { code: 'SESSION_REQUIRED' }],
        ]);
      },
    );
  });
});
