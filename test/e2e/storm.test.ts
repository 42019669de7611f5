import type { FastifyInstance } from 'fastify';
import { beforeAll, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { createAccount } from '../../src/directory/accounts.js';
import { insertUsersWithGroups } from '../../src/directory/users.js';
import { createApp } from '../../src/oauth/apps.js';
import { resetBreakers, setBreakerCap } from '../../src/response/automation.js';
import { applyPlaybooks } from '../../src/response/playbooks.js';
import { applyPolicy } from '../../src/response/protection-policy.js';
import type { User } from '../../src/storage/schema.js';
import { describeBackends } from '../support/backends.js';
import { useServer } from '../support/server.js';
import { appAccessToken, auditTrail, choosePassword, mintSessionToken, testCtx } from '../support/fixtures.js';

/**
 * The full storm (10 signals for each of 1,000 users) runs on PostgreSQL, the backend of a deployment
 * that takes one; on the embedded PGlite, one process answering one query at a time, a tenth of it
 * checks the same rules in a tenth of the time.
 */
const SIZES = { postgres: { users: 1000 }, pglite: { users: 100 } } as const;
const CAP = 25;
const CONCURRENCY = 32;

/** Sends `bodies` over real HTTP, CONCURRENCY at a time; every answer must be 200. */
async function storm(
  url: string,
  token: string,
  bodies: object[],
): Promise<Array<{ plan: { id: string; status: string; subject_user_id: string | null } | null; duplicate: boolean }>> {
  const answers: Array<{
    plan: { id: string; status: string; subject_user_id: string | null } | null;
    duplicate: boolean;
  }> = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        const res = await fetch(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        if (res.status !== 200) throw new Error(`${res.status} ${await res.text()}`);
        answers.push((await res.json()) as (typeof answers)[number]);
      }
    }),
  );
  return answers;
}

describeBackends('alert storm and concurrent duplicates', (backend) => {
  const USERS = SIZES[backend].users;
  const SIGNALS = USERS * 10;
  let core: Core;
  let server: FastifyInstance;
  let url: string;
  let token: string;
  let adminToken: string;
  let accountId: string;
  let users: User[];
  let protectedIds: Set<string>;

  const suite = useServer(backend, {
    env: { CORDON_OAUTH_RATE_PER_CLIENT: '0', CORDON_OAUTH_RATE_PER_ADDRESS: '0' },
    listen: true,
  });

  beforeAll(async () => {
    ({ core, server } = suite);
    ({
      account: { id: accountId },
    } = await createAccount(core.directory, testCtx, {
      name: 'Storm',
      owner: { email: 'owner@storm.example', display_name: 'O' },
    }));
    // 1,000 users: every 50th in Break Glass, every 97th an ADMIN; both protected by the policy.
    users = await core.audit.transact((trx) =>
      insertUsersWithGroups(
        core.directory,
        trx,
        testCtx,
        accountId,
        Array.from({ length: USERS }, (_, i) => ({
          email: `u${i}@storm.example`,
          display_name: `U${i}`,
          role: i % 97 === 0 ? ('ADMIN' as const) : ('MEMBER' as const),
          groups: i % 50 === 0 ? ['Break Glass'] : [],
        })),
      ),
    );
    protectedIds = new Set(users.filter((_, i) => i % 50 === 0 || i % 97 === 0).map((u) => u.id));
    await applyPolicy(core.response, testCtx, accountId, { roles: ['ADMIN'], groups: ['Break Glass'] });
    await applyPlaybooks(core.response, testCtx, accountId, [
      { name: 'storm', match: { types: ['storm.*'] }, action: 'suspend', mode: 'auto', dedup_window: '1h' },
    ]);
    await setBreakerCap(core.response, testCtx, accountId, { max_actions: CAP, window_seconds: 600 });
    const { app, clientSecret } = await createApp(core.directory, testCtx, accountId, {
      name: 'siem',
      permissions: ['signals:write'],
    });
    url = `${suite.url}/v1/accounts/${accountId}/signals`;
    token = await appAccessToken(server, app.client_id, clientSecret!);
    const [owner] = await core.database.db
      .selectFrom('users')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('role', '=', 'OWNER')
      .execute();
    await choosePassword(core, owner!);
    adminToken = await mintSessionToken(core, owner!);
  }, 120_000);

  it(
    `${SIGNALS} signals for ${USERS} users with a cap of ${CAP}: exactly ${CAP} ` +
      `suspensions, the rest pending, one trip, no protected principal touched`,
    async () => {
      // Ten signals per user, interleaved, each with its own external id, every 100th sent twice.
      const bodies = Array.from({ length: SIGNALS }, (_, i) => ({
        external_id: `alert-${i}`,
        type: 'storm.credential_stuffing',
        severity: 'high',
        confidence: 0.9,
        subject: { email: `u${i % USERS}@storm.example` },
      }));
      for (let i = 0; i < SIGNALS; i += 100) bodies.splice(i + 1, 0, bodies[i]!);
      const answers = await storm(url, token, bodies);
      expect(answers).toHaveLength(bodies.length);

      const db = core.database.db;
      const plans = await db
        .selectFrom('plans')
        .select(['subject_user_id', 'status'])
        .where('account_id', '=', accountId)
        .execute();
      const byStatus = (status: string) => plans.filter((p) => p.status === status);
      const executed = byStatus('executed');
      const pending = byStatus('pending_approval');
      const unprotected = users.filter((u) => !protectedIds.has(u.id));
      // Every status but refusals and duplicates (checked below) counted, so that a failure shows where plans went.
      const counts: Record<string, number | undefined> = {};
      for (const p of plans) counts[p.status] = (counts[p.status] ?? 0) + 1;
      expect({ ...counts, refused: undefined, duplicate: undefined }).toEqual({
        executed: CAP,
        pending_approval: unprotected.length - CAP,
      });
      // One open plan per subject: every unprotected user has exactly one, executed or pending.
      expect(new Set([...executed, ...pending].map((p) => p.subject_user_id)).size).toBe(unprotected.length);
      expect(byStatus('refused').every((p) => protectedIds.has(p.subject_user_id!))).toBe(true);
      expect(new Set(byStatus('refused').map((p) => p.subject_user_id))).toEqual(protectedIds);
      expect(answers.filter((a) => a.duplicate)).toHaveLength(SIGNALS / 100);

      const suspended = await db
        .selectFrom('users')
        .select('id')
        .where('account_id', '=', accountId)
        .where('state', '=', 'SUSPENDED')
        .execute();
      expect(new Set(suspended.map((u) => u.id))).toEqual(new Set(executed.map((p) => p.subject_user_id)));
      expect(suspended.some((u) => protectedIds.has(u.id))).toBe(false);

      // The trip: audited once, holding the subject whose plan tripped it; then every further plan is held.
      const trail = await auditTrail(core, accountId);
      const trips = trail.filter((e) => e.action === 'automation.breaker_trip');
      expect(trips).toHaveLength(1);
      expect(trips[0]!.details).toMatchObject({ scope: 'account', max_actions: CAP, window_seconds: 600 });
      const heldBack = new Set(pending.map((p) => p.subject_user_id));
      const automation = await server.inject({
        method: 'GET',
        url: `/v1/accounts/${accountId}/automation`,
        headers: { authorization: `Bearer ${adminToken}` },
      });
      const [breaker] = automation.json().tripped_breakers;
      expect(new Set(breaker.held_user_ids)).toEqual(heldBack);
      const [tripSubject] = (trips[0]!.details as { held: string[] }).held;
      expect(heldBack.has(tripSubject!)).toBe(true);
      expect(breaker.trip_plan_id).toBe((trips[0]!.details as { plan_id: string }).plan_id);
      expect(trail.filter((e) => e.action === 'user.suspend' && e.outcome === 'changed')).toHaveLength(CAP);

      // The reset lists every subject the breaker held back.
      await resetBreakers(core.response, testCtx, accountId);
      const reset = (await auditTrail(core, accountId)).filter((e) => e.action === 'automation.breaker_reset');
      expect(reset).toHaveLength(1);
      expect(new Set((reset[0]!.details as { held: string[] }).held)).toEqual(heldBack);
    },
    300_000,
  );

  it(
    'concurrent duplicates never produce a second action: ' + 'the same external id, or the same subject and playbook',
    async () => {
      await resetBreakers(core.response, testCtx, accountId).catch(() => {});
      await setBreakerCap(core.response, testCtx, accountId, { max_actions: 1000, window_seconds: 600 });
      await applyPlaybooks(core.response, testCtx, accountId, [
        { name: 'dupes', priority: 500, match: { types: ['dupes'] }, action: 'suspend', mode: 'auto' },
      ]);
      const [a, b] = users.filter((u) => !protectedIds.has(u.id)).slice(-2);
      const sameId = Array.from({ length: 20 }, () => ({
        external_id: 'same-alert',
        type: 'dupes',
        subject: { user_id: a!.id },
      }));
      const sameSubject = Array.from({ length: 20 }, (_, i) => ({
        external_id: `subject-alert-${i}`,
        type: 'dupes',
        subject: { user_id: b!.id },
      }));
      const answers = await storm(url, token, [...sameId, ...sameSubject]);
      const ofA = answers.filter((x) => x.plan?.subject_user_id === a!.id);
      expect(ofA.filter((x) => !x.duplicate)).toHaveLength(1);
      expect(new Set(ofA.map((x) => x.plan!.id)).size).toBe(1);
      const ofB = answers.filter((x) => x.plan?.subject_user_id === b!.id);
      expect(ofB.filter((x) => x.plan!.status === 'executed')).toHaveLength(1);
      expect(ofB.filter((x) => x.plan!.status === 'duplicate')).toHaveLength(19);
      const trail = await auditTrail(core, accountId);
      for (const id of [a!.id, b!.id])
        expect(
          trail.filter((e) => e.action === 'user.suspend' && e.target_id === id && e.outcome === 'changed'),
        ).toHaveLength(1);
    },
    120_000,
  );
});
