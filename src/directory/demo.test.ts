import { expect, it } from 'vitest';
import { describeBackends, useFreshCore } from '../../test/support/backends.js';
import { testCtx } from '../../test/support/fixtures.js';
import { listAccounts } from '../store/accounts.js';
import { listAuditEntries } from '../store/audit.js';
import { countUsers, findUserById } from '../store/users.js';
import { prepareDemo, seedDemoIfEmpty } from './demo.js';
import { verifySecret } from './passwords.js';

describeBackends('demo seed', (backend) => {
  const t = useFreshCore(backend);

  it('seeds one demo account even when several starts race on an empty database', async () => {
    const results = await Promise.all([1, 2, 3].map(() => seedDemoIfEmpty(t.core.directory, testCtx)));
    const made = results.filter((r) => r !== undefined);
    expect(made).toHaveLength(1);
    const demo = made[0]!;
    expect(demo).toMatchObject({
      members: 25,
      sessions: 8,
      groups: ['Engineering', 'Finance', 'Security Operations', 'Contractors'],
    });
    expect(demo.admins.map((a) => [a.email, a.display_name])).toEqual([
      ['ada.lovelace@demo.cordon.test', 'Ada Lovelace'],
      ['grace.hopper@demo.cordon.test', 'Grace Hopper'],
      ['alan.turing@demo.cordon.test', 'Alan Turing'],
    ]);
    expect((await listAccounts(t.core.database.db)).map((a) => a.id)).toEqual([demo.account.id]);
    expect(await countUsers(t.core.database.db, demo.account.id)).toBe(29);

    await t.core.audit.sequencer.drain();
    const entries = await listAuditEntries(t.core.database.db, { accountId: demo.account.id });
    const count = (action: string) => entries.filter((e) => e.action === action).length;
    expect([count('account.create'), count('user.create'), count('group.create'), count('session.create')]).toEqual([
      1, 29, 4, 8,
    ]);
    expect(JSON.stringify(entries)).not.toContain(demo.ownerCredentials.password);
    expect(JSON.stringify(entries)).not.toContain(demo.ownerCredentials.totpSecret);

    expect(await seedDemoIfEmpty(t.core.directory, testCtx)).toBeUndefined();
    // Credentials made ahead (while a first start opens the database) are left unused when an account exists.
    expect(await seedDemoIfEmpty(t.core.directory, testCtx, prepareDemo())).toBeUndefined();
  });

  it('gives the owner the credentials made ahead, when given', async () => {
    const preparing = prepareDemo();
    const demo = (await seedDemoIfEmpty(t.core.directory, testCtx, preparing))!;
    expect(demo.ownerCredentials).toBe((await preparing).ownerCredentials);
    const owner = await findUserById(t.core.database.db, demo.account.id, demo.owner.id);
    expect(await verifySecret(demo.ownerCredentials.password, owner!.password_hash!)).toBe(true);
    expect(owner!.password_change_required).toBe(true);
  });
});
