import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAccount } from '../directory/accounts.js';
import { createUser } from '../directory/users.js';
import type { Core } from '../core.js';
import type { User, UserRole } from '../storage/schema.js';
import { createTestDatabase, describeBackends, openTestCore, type TestDatabase } from '../../test/support/backends.js';
import { testCtx } from '../../test/support/fixtures.js';
import { setBreakerCap, setPaused } from './automation.js';
import { planSignal, receiveSignal } from './engine.js';
import type { CanonicalSignal } from './intake/signal.js';
import { SEVERITIES } from './intake/signal.js';
import { applyPlaybooks } from './playbooks.js';
import { applyPolicy, type ProtectionPolicyDocument } from './protection-policy.js';

const TYPES = ['idp.impossible_travel', 'idp.mfa_fatigue', 'edr.lsass'];
const GROUPS = ['Break Glass', 'Finance', 'Engineering'];
const ROLES: UserRole[] = ['OWNER', 'ADMIN', 'MEMBER'];

describeBackends('response engine properties', (backend) => {
  let database: TestDatabase;
  let core: Core;
  let accountId: string;
  let users: Array<User & { groups: string[] }>;
  let run = 0;

  beforeAll(async () => {
    database = await createTestDatabase(backend);
    core = await openTestCore(database);
    const { account, owner } = await createAccount(core.directory, testCtx, {
      name: 'Props',
      owner: { email: 'owner@props.example', display_name: 'Owner' },
    });
    accountId = account.id;
    users = [{ ...owner, groups: [] }];
    const specs: Array<[UserRole, string[], boolean]> = [
      ['OWNER', ['Finance'], false],
      ['ADMIN', ['Break Glass'], false],
      ['ADMIN', [], true],
      ['MEMBER', ['Finance'], false],
      ['MEMBER', ['Engineering'], false],
      ['MEMBER', ['Break Glass', 'Engineering'], false],
      ['MEMBER', [], false],
      ['MEMBER', [], true],
    ];
    for (const [i, [role, groups, eam]] of specs.entries()) {
      const user = await createUser(core.directory, testCtx, accountId, {
        email: `user${i}@props.example`,
        display_name: `User ${i}`,
        role,
        groups,
        ...(eam ? { externally_managed: true } : {}),
      });
      users.push({ ...user, groups });
    }
    await setBreakerCap(core.response, testCtx, accountId, { max_actions: 10_000, window_seconds: 60 });
  });
  afterAll(async () => {
    await core?.close();
    await database?.drop();
  });

  const policyArb = fc.record(
    {
      roles: fc.subarray(ROLES),
      groups: fc.subarray(GROUPS),
      user_ids: fc.subarray([0, 1, 2, 3, 4, 5, 6, 7, 8]).map((ix) => ix.map((i) => `#${i}`)),
    },
    { requiredKeys: [] },
  );
  const playbookArb = fc.record({
    name: fc.constantFrom('alpha', 'beta', 'gamma'),
    priority: fc.integer({ min: 0, max: 10 }),
    match: fc.record(
      {
        types: fc.subarray(TYPES, { minLength: 1 }),
        min_severity: fc.constantFrom(...SEVERITIES),
        subject: fc.record(
          { roles: fc.subarray(ROLES, { minLength: 1 }), groups: fc.subarray(GROUPS, { minLength: 1 }) },
          { requiredKeys: [] },
        ),
      },
      { requiredKeys: ['types'] },
    ),
    action: fc.constantFrom('suspend' as const, 'notify' as const),
    mode: fc.constantFrom('auto' as const, 'approval' as const),
  });
  const signalArb = fc.record({
    type: fc.constantFrom(...TYPES),
    severity: fc.constantFrom(...SEVERITIES),
    who: fc.integer({ min: 0, max: 8 }),
    by: fc.constantFrom('user_id', 'email', 'username'),
  });

  const signalFor = (
    s: { type: string; severity: (typeof SEVERITIES)[number]; who: number; by: string },
    externalId: string,
  ): CanonicalSignal => {
    const user = users[s.who]!;
    const subject =
      s.by === 'user_id'
        ? { user_id: user.id }
        : s.by === 'email'
          ? { email: user.email }
          : { username: user.email.split('@')[0]! };
    return {
      external_id: externalId,
      type: s.type,
      title: s.type,
      severity: s.severity,
      confidence: 0.9,
      subject,
      observed_time: new Date().toISOString(),
      tags: [],
    };
  };
  const materialize = (policy: {
    roles?: UserRole[];
    groups?: string[];
    user_ids?: string[];
  }): ProtectionPolicyDocument => ({
    ...(policy.roles ? { roles: policy.roles } : {}),
    ...(policy.groups ? { groups: policy.groups } : {}),
    ...(policy.user_ids ? { user_ids: policy.user_ids.map((ref) => users[Number(ref.slice(1))]!.id) } : {}),
  });
  const playbookDoc = (p: object) => {
    const doc = { ...(p as Record<string, unknown>) };
    if (doc.action === 'notify') delete doc.mode;
    return doc;
  };
  /** Written here from the rules, not taken from the code under test. */
  const isProtected = (
    user: User & { groups: string[] },
    policy: ProtectionPolicyDocument,
    activeOwners: number,
  ): boolean =>
    user.externally_managed ||
    (user.role === 'OWNER' && activeOwners <= 1) ||
    (policy.roles ?? []).includes(user.role) ||
    user.groups.some((g) => (policy.groups ?? []).includes(g)) ||
    (policy.user_ids ?? []).includes(user.id);

  it('a protected principal is never suspended, whatever the playbooks, policy and signals', async () => {
    await fc.assert(
      fc.asyncProperty(
        policyArb,
        fc.array(playbookArb, { minLength: 1, maxLength: 3 }),
        fc.array(signalArb, { minLength: 1, maxLength: 4 }),
        async (policyIn, playbooks, signals) => {
          run++;
          // Every run starts from everyone active, no open plans, automation running.
          await sql`UPDATE users SET state = 'ACTIVE' WHERE account_id = ${accountId}`.execute(core.database.db);
          await sql`DELETE FROM containments WHERE account_id = ${accountId}`.execute(core.database.db);
          await sql`DELETE FROM plans WHERE account_id = ${accountId}`.execute(core.database.db);
          await setPaused(core.response, testCtx, accountId, false);
          const policy = materialize(policyIn);
          await applyPolicy(core.response, testCtx, accountId, policy);
          const unique = [...new Map(playbooks.map((p) => [p.name, playbookDoc(p)])).values()];
          await applyPlaybooks(core.response, testCtx, accountId, unique);
          for (const [i, s] of signals.entries()) {
            const user = users[s.who]!;
            const activeOwners = Number(
              (
                await sql<{
                  n: string;
                }>`SELECT count(*) AS n FROM users WHERE account_id = ${accountId} AND role = 'OWNER'
                    AND state = 'ACTIVE'`.execute(core.database.db)
              ).rows[0]!.n,
            );
            const stateOf = async () =>
              (
                await core.database.db
                  .selectFrom('users')
                  .select('state')
                  .where('account_id', '=', accountId)
                  .where('id', '=', user.id)
                  .executeTakeFirstOrThrow()
              ).state;
            // Protection is about being suspended: a user an earlier signal suspended stays so.
            const wasProtected = (await stateOf()) === 'ACTIVE' && isProtected(user, policy, activeOwners);
            const { plan } = await receiveSignal(core.response, {
              accountId,
              sourceId: 'prop',
              signal: signalFor(s, `run${run}-${i}`),
              rawText: '{}',
              ctx: testCtx,
            });
            if (wasProtected) {
              expect(await stateOf()).toBe('ACTIVE');
              expect(plan!.status).not.toBe('executed');
            }
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  const digest = async () => {
    const tables = (
      await sql<{ t: string }>`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`.execute(
        core.database.db,
      )
    ).rows.map((r) => r.t);
    const parts: string[] = [];
    for (const t of tables) {
      const row = await sql<{
        d: string | null;
      }>`SELECT md5(coalesce(string_agg(md5(x::text), ',' ORDER BY md5(x::text)), '')) AS d
          FROM ${sql.table(t)} x`.execute(core.database.db);
      parts.push(`${t}:${row.rows[0]!.d}`);
    }
    return parts;
  };

  it('a dry run never changes any table', async () => {
    await core.audit.settle();
    await core.audit.sequencer.stop();
    await core.checkpointer.stop();
    try {
      await core.audit.sequencer.drain();
      await core.checkpointer.pass();
      await fc.assert(
        fc.asyncProperty(
          fc.array(playbookArb, { minLength: 0, maxLength: 3 }),
          signalArb,
          fc.boolean(),
          async (playbooks, s, paused) => {
            run++;
            if (playbooks.length > 0)
              await applyPlaybooks(core.response, testCtx, accountId, [
                ...new Map(playbooks.map((p) => [p.name, playbookDoc(p)])).values(),
              ]);
            await setPaused(core.response, testCtx, accountId, paused);
            await core.audit.sequencer.drain();
            await core.checkpointer.pass();
            const before = await digest();
            const { draft } = await planSignal(core.response, accountId, 'prop', signalFor(s, `dry${run}`));
            expect(draft.dryRun).toBe(true);
            expect(await digest()).toEqual(before);
          },
        ),
        { numRuns: 15 },
      );
    } finally {
      core.audit.sequencer.start();
      core.checkpointer.start();
    }
  });
});
