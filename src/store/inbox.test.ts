/**
 * The inbox's per-target lines are SQL that mirrors targets/steps.ts planTargets (the inbox reads in one
 * statement; planTargets decides at execution): for every kind of target and playbook set, the two must
 * say the same, target by target.
 */
import { beforeAll, expect, it } from 'vitest';
import { newId } from '../ids.js';
import { applyPlaybooks } from '../response/playbooks.js';
import { planTargets, type TargetSet } from '../targets/steps.js';
import { describeBackends, useSharedCore } from '../../test/support/backends.js';
import { seedAccount, testCtx, type SeededAccount } from '../../test/support/fixtures.js';
import { planMaker, type PlanMaker } from '../../test/support/pending-plans.js';
import { readInbox } from './inbox.js';

describeBackends('store/inbox: what a pending suspension would do on each target', (backend) => {
  const shared = useSharedCore(backend);
  let seed: SeededAccount;
  let plans: PlanMaker;

  const target = async (name: string, kind: string, options: { enabled?: boolean; synced?: boolean } = {}) => {
    const id = newId();
    await shared.core.database.db
      .insertInto('targets')
      .values({
        account_id: seed.accountId,
        id,
        name,
        kind: kind as 'scim',
        config: JSON.stringify({}) as never,
        credentials: 'sealed',
        enabled: options.enabled ?? true,
        created_by: JSON.stringify(testCtx.actor) as never,
        last_sync_at: options.synced === false ? null : new Date(),
      })
      .execute();
    return id;
  };
  const identity = (targetId: string, externalId: string, email: string | null, userName: string | null) =>
    shared.core.database.db
      .insertInto('target_identities')
      .values({
        account_id: seed.accountId,
        target_id: targetId,
        external_id: externalId,
        email,
        user_name: userName,
        state: 'ACTIVE',
      })
      .execute();

  beforeAll(async () => {
    seed = await seedAccount(shared.core, 3);
    const [m0] = seed.members;
    const op = await target('op', 'onepassword');
    const sc = await target('sc', 'scim');
    await target('gt', 'gtr');
    await target('fresh', 'scim', { synced: false });
    await target('off', 'onepassword', { enabled: false });
    const gone = await target('gone', 'scim');
    await shared.core.database.db
      .updateTable('targets')
      .set({ removed_at: new Date() })
      .where('id', '=', gone)
      .execute();
    // m0 is on op by email and on sc by user name only (and by another email, which an email match beats).
    await identity(op, 'OP-1', m0!.email.toUpperCase(), null);
    await identity(sc, 'SC-by-name', null, m0!.email);
    await identity(sc, 'SC-by-email', m0!.email, 'someone');
    // m1 is on no synced target.
    plans = await planMaker(shared.core, seed.accountId);
    await applyPlaybooks(shared.core.response, testCtx, seed.accountId, [
      { name: 'listed', priority: 20, match: { types: ['test.listed'] }, action: 'suspend', mode: 'approval' },
    ]);
  });

  const sets: Array<[string, TargetSet | undefined]> = [
    ['all', undefined],
    ['listed', ['cordon', 'sc', 'off', 'op']],
  ];
  for (const [label, set] of sets)
    it(`says what planTargets says, for ${label} targets`, async () => {
      if (set !== undefined)
        await applyPlaybooks(shared.core.response, testCtx, seed.accountId, [
          {
            name: 'listed',
            priority: 20,
            match: { types: ['test.listed'] },
            action: 'suspend',
            mode: 'approval',
            targets: set,
          },
        ]);
      for (const member of seed.members.slice(0, 2)) {
        const { plan } = await plans.signal(member.email, { playbook: set === undefined ? 'needs-one' : 'listed' });
        expect(plan!.status).toBe('pending_approval');
        const inbox = await readInbox(
          shared.core.database.db,
          { accountId: seed.accountId, userId: seed.admin.id, approverByRole: true },
          plan!.id,
        );
        const expected = await planTargets(shared.core.database.db, seed.accountId, set ?? 'all', {
          user_id: member.id,
          email: member.email,
        });
        expect(inbox.plans[0]!.targets).toEqual(
          expected.items.map((i) => ({
            target: i.target,
            kind: i.kind,
            would: i.would,
            external_id: i.external_id ?? null,
            reason: i.reason ?? null,
          })),
        );
        if (set === undefined && member === seed.members[0])
          expect(inbox.plans[0]!.targets.map((t) => `${t.target} ${t.would} ${t.external_id ?? t.reason}`)).toEqual([
            'fresh suspend resolve by email at execution',
            'gt suspend resolve by email at execution',
            'op suspend OP-1',
            'sc suspend SC-by-email',
          ]);
        if (set !== undefined && member === seed.members[1])
          expect(inbox.plans[0]!.targets.map((t) => `${t.target} ${t.would} ${t.external_id ?? t.reason}`)).toEqual([
            'off nothing off is disabled',
            'op nothing not on op',
            'sc nothing not on sc',
          ]);
      }
    });
});
