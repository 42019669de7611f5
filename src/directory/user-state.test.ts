import { beforeEach, expect, it } from 'vitest';
import { describeBackends, useSharedCore } from '../../test/support/backends.js';
import { seedAccount, testCtx, type SeededAccount } from '../../test/support/fixtures.js';
import type { Core } from '../core.js';
import { AppError } from '../errors.js';
import { getLogSize, listAuditEntries } from '../store/audit.js';
import { listSessionsOfUser } from '../store/sessions.js';
import { findUserById } from '../store/users.js';
import { createAccount } from './accounts.js';
import { openSession } from './sessions.js';
import { setUserRole } from './user-admin.js';
import { reactivateUser, suspendUser } from './user-state.js';

describeBackends('suspend and reactivate', (backend) => {
  const t = useSharedCore(backend);
  let seed: SeededAccount;

  beforeEach(async () => {
    seed = await seedAccount(t.core);
  });

  const entriesFor = async (userId: string) => {
    await t.core.audit.settle();
    await t.core.audit.sequencer.drain();
    return listAuditEntries(t.core.database.db, { accountId: seed.accountId, targetType: 'user', targetId: userId });
  };

  it('suspends, revokes every live session in the same change, and audits it', async () => {
    const member = seed.members[0]!;
    const s1 = await openSession(t.core.directory, testCtx, seed.accountId, member.id, 'web');
    const s2 = await openSession(t.core.directory, testCtx, seed.accountId, member.id, 'cli');

    const result = await suspendUser(
      t.core.directory,
      { ...testCtx, cause: { reason: 'phishing', ticket: 'SEC-1' } },
      seed.accountId,
      member.id,
    );

    expect(result.changed).toBe(true);
    expect(result.user.state).toBe('SUSPENDED');
    expect(result.sessionsRevoked).toEqual([s1.id, s2.id].sort());
    const sessions = await listSessionsOfUser(t.core.database.db, seed.accountId, member.id);
    expect(sessions.map((s) => [s.id, s.revoke_reason, s.revoked_at !== null])).toEqual(
      expect.arrayContaining([
        [s1.id, 'user_suspended', true],
        [s2.id, 'user_suspended', true],
      ]),
    );
    const last = (await entriesFor(member.id)).at(-1)!;
    expect(last).toMatchObject({
      action: 'user.suspend',
      outcome: 'changed',
      actor_type: 'operator',
      actor_id: 'tester@test',
      authz: { method: 'test' },
      cause: { reason: 'phishing', ticket: 'SEC-1' },
      details: { from: 'ACTIVE', to: 'SUSPENDED', sessions_revoked: [s1.id, s2.id].sort() },
    });
    expect(last.idx).toEqual(expect.any(Number));
  });

  it('is idempotent: a user already in the target state comes back unchanged, and the call is audited', async () => {
    const member = seed.members[0]!;
    await suspendUser(t.core.directory, testCtx, seed.accountId, member.id);
    const before = await findUserById(t.core.database.db, seed.accountId, member.id);
    const again = await suspendUser(t.core.directory, testCtx, seed.accountId, member.id);
    expect(again.changed).toBe(false);
    expect(again.user).toEqual(before);
    expect(again.sessionsRevoked).toEqual([]);

    await reactivateUser(t.core.directory, testCtx, seed.accountId, member.id);
    const twice = await reactivateUser(t.core.directory, testCtx, seed.accountId, member.id);
    expect(twice.changed).toBe(false);
    expect(twice.user.state).toBe('ACTIVE');
    const actions = (await entriesFor(member.id)).filter(
      (e) => e.action.startsWith('user.s') || e.action.startsWith('user.r'),
    );
    expect(actions.map((e) => [e.action, e.outcome])).toEqual([
      ['user.suspend', 'changed'],
      ['user.suspend', 'unchanged'],
      ['user.reactivate', 'changed'],
      ['user.reactivate', 'unchanged'],
    ]);
  });

  it('never revives a session on reactivation', async () => {
    const member = seed.members[1]!;
    const session = await openSession(t.core.directory, testCtx, seed.accountId, member.id, 'web');
    await suspendUser(t.core.directory, testCtx, seed.accountId, member.id);
    await reactivateUser(t.core.directory, testCtx, seed.accountId, member.id);
    const [after] = await listSessionsOfUser(t.core.database.db, seed.accountId, member.id);
    expect(after).toMatchObject({ id: session.id, revoke_reason: 'user_suspended' });
    expect(after!.revoked_at).not.toBeNull();
    // and a suspended user cannot open a new one
    await suspendUser(t.core.directory, testCtx, seed.accountId, member.id);
    await expect(openSession(t.core.directory, testCtx, seed.accountId, member.id, 'web')).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
    });
  });

  it('refuses the last active owner with LAST_OWNER, and audits the refusal without a change', async () => {
    const error = await suspendUser(t.core.directory, testCtx, seed.accountId, seed.owner.id).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'LAST_OWNER', description: 'no_owner_remain', httpStatus: 403, grpcCode: 7 });
    expect((await findUserById(t.core.database.db, seed.accountId, seed.owner.id))!.state).toBe('ACTIVE');
    const last = (await entriesFor(seed.owner.id)).at(-1)!;
    expect(last).toMatchObject({ action: 'user.suspend', outcome: 'refused', details: { code: 'LAST_OWNER' } });

    // With a second active owner the first may be suspended; then the second is the last.
    await setUserRole(t.core.directory, testCtx, seed.accountId, seed.admin.id, 'OWNER');
    await suspendUser(t.core.directory, testCtx, seed.accountId, seed.owner.id);
    await expect(suspendUser(t.core.directory, testCtx, seed.accountId, seed.admin.id)).rejects.toMatchObject({
      code: 'LAST_OWNER',
    });
    await expect(setUserRole(t.core.directory, testCtx, seed.accountId, seed.admin.id, 'MEMBER')).rejects.toMatchObject(
      { code: 'LAST_OWNER' },
    );
  });

  it('refuses externally managed users with their own code', async () => {
    await expect(suspendUser(t.core.directory, testCtx, seed.accountId, seed.eam.id)).rejects.toMatchObject({
      code: 'EXTERNALLY_MANAGED',
      httpStatus: 403,
    });
    expect((await findUserById(t.core.database.db, seed.accountId, seed.eam.id))!.state).toBe('ACTIVE');
    const last = (await entriesFor(seed.eam.id)).at(-1)!;
    expect(last).toMatchObject({ action: 'user.suspend', outcome: 'refused', details: { code: 'EXTERNALLY_MANAGED' } });
  });

  it('answers USER_NOT_FOUND for an unknown user and for a user of another account', async () => {
    await expect(
      suspendUser(t.core.directory, testCtx, seed.accountId, 'AAAAAAAAAAAAAAAAAAAAAAAAAA'),
    ).rejects.toMatchObject({ code: 'USER_NOT_FOUND' });
    const other = await seedAccountNamed(t.core);
    await expect(suspendUser(t.core.directory, testCtx, other, seed.members[0]!.id)).rejects.toMatchObject({
      code: 'USER_NOT_FOUND',
    });
    // An unknown account: refused, and no log is created for it.
    await expect(suspendUser(t.core.directory, testCtx, 'NOSUCHACCOUNT', seed.members[0]!.id)).rejects.toMatchObject({
      code: 'ACCOUNT_NOT_FOUND',
    });
    await t.core.audit.settle();
    await t.core.audit.sequencer.drain();
    expect(
      await listAuditEntries(t.core.database.db, { accountId: 'NOSUCHACCOUNT', includeUnsequenced: true }),
    ).toEqual([]);
    expect(await getLogSize(t.core.database.db, 'NOSUCHACCOUNT')).toBe(0);
    expect((await findUserById(t.core.database.db, seed.accountId, seed.members[0]!.id))!.state).toBe('ACTIVE');
  });

  it('two owners suspending each other at once cannot leave the account without an active owner', async () => {
    await setUserRole(t.core.directory, testCtx, seed.accountId, seed.admin.id, 'OWNER');
    const results = await Promise.allSettled([
      suspendUser(t.core.directory, testCtx, seed.accountId, seed.owner.id),
      suspendUser(t.core.directory, testCtx, seed.accountId, seed.admin.id),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toMatchObject({ code: 'LAST_OWNER' });
    const states = await Promise.all(
      [seed.owner.id, seed.admin.id].map((id) => findUserById(t.core.database.db, seed.accountId, id)),
    );
    expect(states.filter((u) => u!.state === 'ACTIVE')).toHaveLength(1);
  });

  it(
    '50 concurrent suspend/reactivate calls end in the state ' + 'of the last committed call, with dense audit indexes',
    async () => {
      const member = seed.members[2]!;
      const calls = Array.from({ length: 50 }, (_, i) => (i % 3 === 0 ? 'suspend' : 'reactivate'));
      const outcomes = await Promise.allSettled(
        calls.map((verb, i) =>
          (verb === 'suspend' ? suspendUser : reactivateUser)(
            t.core.directory,
            { ...testCtx, cause: { call: i } },
            seed.accountId,
            member.id,
          ),
        ),
      );
      // No error other than the documented ones (and with this user, none at all).
      expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);

      const entries = (await entriesFor(member.id)).filter(
        (e) => e.action === 'user.suspend' || e.action === 'user.reactivate',
      );
      expect(entries).toHaveLength(50);
      expect(new Set(entries.map((e) => (e.cause as { call: number }).call)).size).toBe(50);
      const lastCommitted = entries.at(-1)!;
      const user = await findUserById(t.core.database.db, seed.accountId, member.id);
      expect(user!.state).toBe(lastCommitted.action === 'user.suspend' ? 'SUSPENDED' : 'ACTIVE');

      // No lost update: replaying the entries in index order reproduces every recorded transition.
      let state = 'ACTIVE';
      for (const e of entries) {
        const target = e.action === 'user.suspend' ? 'SUSPENDED' : 'ACTIVE';
        expect(e.outcome).toBe(state === target ? 'unchanged' : 'changed');
        if (e.outcome === 'changed') expect(e.details).toMatchObject({ from: state, to: target });
        state = target;
      }
      expect(state).toBe(user!.state);

      const all = await listAuditEntries(t.core.database.db, { accountId: seed.accountId });
      expect(all.map((e) => e.idx)).toEqual(all.map((_, i) => i));
    },
  );
});

async function seedAccountNamed(core: Core): Promise<string> {
  const { account } = await createAccount(core.directory, testCtx, {
    name: 'Other Co',
    owner: { email: 'owner@other.example', display_name: 'Other' },
  });
  return account.id;
}
