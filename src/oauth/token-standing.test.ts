import { expect, it } from 'vitest';
import { describeBackends, useFreshCore } from '../../test/support/backends.js';
import { seedAccount, testCtx } from '../../test/support/fixtures.js';
import { insertRevocation } from '../store/tokens.js';
import { createApp, disableApp } from './apps.js';
import { TokenStanding } from './token-standing.js';

describeBackends('token standing', (backend) => {
  const t = useFreshCore(backend);

  it('answers the checks of one turn with one query, each token on its own', async () => {
    const { accountId } = await seedAccount(t.core, 0);
    const { app } = await createApp(t.core.directory, testCtx, accountId, { name: 'a', permissions: ['users:list'] });
    const { app: gone } = await createApp(t.core.directory, testCtx, accountId, { name: 'b', permissions: ['users:list'] });
    await disableApp(t.core.directory, testCtx, accountId, gone.id);
    await insertRevocation(t.core.database.db, { account_id: accountId, jti: 'revoked', client_id: app.client_id, expires_at: new Date(Date.now() + 60_000) });
    let queries = 0;
    const standing = new TokenStanding(t.core.database.db.withPlugin({ transformQuery: (args) => (queries++, args.node), transformResult: async (args) => args.result }));
    const token = (jti: string, clientId = app.client_id, account = accountId) => ({ accountId: account, jti, clientId });
    const answers = await Promise.all([
      standing.stands(token('fine')),
      standing.stands(token('revoked')),
      standing.stands(token('fine', gone.client_id)),
      standing.stands(token('fine', 'no-such-client')),
      standing.stands(token('fine', app.client_id, 'ANOTHERACCOUNTAAAAAAAAAAAA')),
      standing.stands(token('fine')),
    ]);
    expect(answers).toEqual([true, false, false, false, false, true]);
    expect(queries).toBe(1);
    // A revocation counts from the next check.
    await insertRevocation(t.core.database.db, { account_id: accountId, jti: 'fine', client_id: app.client_id, expires_at: new Date(Date.now() + 60_000) });
    expect(await standing.stands(token('fine'))).toBe(false);
  });
});
