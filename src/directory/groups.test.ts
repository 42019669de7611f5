import { beforeEach, expect, it } from 'vitest';
import { describeBackends, useSharedCore } from '../../test/support/backends.js';
import { seedAccount, testCtx, type SeededAccount } from '../../test/support/fixtures.js';
import { listAuditEntries } from '../store/audit.js';
import { listGroupIdsOfUser } from '../store/groups.js';
import { createAccount } from './accounts.js';
import { addMember, createGroup, removeMember } from './groups.js';
import { revokeSession, openSession } from './sessions.js';

describeBackends('groups, memberships and sessions', (backend) => {
  const t = useSharedCore(backend);
  let seed: SeededAccount;
  beforeEach(async () => {
    seed = await seedAccount(t.core, 1);
  });

  const lastEntry = async () => {
    await t.core.audit.sequencer.drain();
    return (await listAuditEntries(t.core.database.db, { accountId: seed.accountId })).at(-1)!;
  };

  it('creates groups and adds and removes members, auditing each change', async () => {
    const member = seed.members[0]!;
    const group = await createGroup(t.core.directory, testCtx, seed.accountId, '  Incident Responders ');
    expect(group.name).toBe('Incident Responders');
    expect(await lastEntry()).toMatchObject({
      action: 'group.create',
      target_type: 'group',
      target_id: group.id,
      outcome: 'changed',
      details: { name: 'Incident Responders' },
    });
    await expect(createGroup(t.core.directory, testCtx, seed.accountId, 'incident responders')).rejects.toMatchObject({
      code: 'ALREADY_EXISTS',
    });

    expect(await addMember(t.core.directory, testCtx, seed.accountId, group.id, member.id)).toBe(true);
    expect(await lastEntry()).toMatchObject({
      action: 'membership.add',
      target_id: member.id,
      outcome: 'changed',
      details: { group_id: group.id },
    });
    expect(await addMember(t.core.directory, testCtx, seed.accountId, group.id, member.id)).toBe(false);
    expect(await lastEntry()).toMatchObject({ action: 'membership.add', outcome: 'unchanged' });
    expect(await listGroupIdsOfUser(t.core.database.db, seed.accountId, member.id)).toContain(group.id);

    expect(await removeMember(t.core.directory, testCtx, seed.accountId, group.id, member.id)).toBe(true);
    expect(await lastEntry()).toMatchObject({ action: 'membership.remove', target_id: member.id, outcome: 'changed' });
    expect(await listGroupIdsOfUser(t.core.database.db, seed.accountId, member.id)).not.toContain(group.id);
  });

  it('never lets one account touch another account’s groups or users', async () => {
    const { account: other, owner: outsider } = await createAccount(t.core.directory, testCtx, {
      name: 'Other',
      owner: { email: 'o@other.example', display_name: 'O' },
    });
    const ours = await createGroup(t.core.directory, testCtx, seed.accountId, 'Ours');
    await expect(addMember(t.core.directory, testCtx, seed.accountId, ours.id, outsider.id)).rejects.toMatchObject({
      code: 'USER_NOT_FOUND',
    });
    await expect(addMember(t.core.directory, testCtx, other.id, ours.id, outsider.id)).rejects.toMatchObject({
      code: 'GROUP_NOT_FOUND',
    });
    await expect(removeMember(t.core.directory, testCtx, other.id, ours.id, seed.members[0]!.id)).rejects.toMatchObject(
      { code: 'GROUP_NOT_FOUND' },
    );
    // The same group name may exist in both accounts.
    await expect(createGroup(t.core.directory, testCtx, other.id, 'Ours')).resolves.toMatchObject({ name: 'Ours' });
  });

  it('opens and revokes sessions, auditing both', async () => {
    const member = seed.members[0]!;
    const session = await openSession(t.core.directory, testCtx, seed.accountId, member.id, 'web');
    expect(session).toMatchObject({ user_id: member.id, kind: 'web', revoked_at: null });
    expect(await lastEntry()).toMatchObject({
      action: 'session.create',
      target_id: member.id,
      details: { session_id: session.id, kind: 'web' },
    });
    const revoked = await revokeSession(t.core.directory, testCtx, seed.accountId, session.id, 'signed_out');
    expect(revoked).toMatchObject({ id: session.id, revoke_reason: 'signed_out' });
    expect(await lastEntry()).toMatchObject({
      action: 'session.revoke',
      details: { session_id: session.id, reason: 'signed_out' },
    });
    expect(await revokeSession(t.core.directory, testCtx, seed.accountId, session.id, 'again')).toBeUndefined();
  });
});
