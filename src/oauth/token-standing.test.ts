import { sql } from 'kysely';
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
    const { app: gone } = await createApp(t.core.directory, testCtx, accountId, {
      name: 'b',
      permissions: ['users:list'],
    });
    await disableApp(t.core.directory, testCtx, accountId, gone.id);
    await insertRevocation(t.core.database.db, {
      account_id: accountId,
      jti: 'revoked',
      client_id: app.client_id,
      expires_at: new Date(Date.now() + 60_000),
    });
    const { kid: leaked } = await t.core.keys.signingKey();
    const { kid: lapsed } = await t.core.keys.rotate(t.core.audit, testCtx);
    const { kid: retired } = await t.core.keys.rotate(t.core.audit, testCtx);
    const { kid } = await t.core.keys.rotate(t.core.audit, testCtx);
    await t.core.keys.revoke(t.core.audit, testCtx, leaked);
    // Retired longer ago than a token lifetime and its minute: its tokens have all expired.
    await sql`UPDATE signing_keys SET retired_at = now() - interval '961 seconds' WHERE kid = ${lapsed}`.execute(
      t.core.database.db,
    );
    let queries = 0;
    const standing = new TokenStanding(
      t.core.database.db.withPlugin({
        transformQuery: (args) => (queries++, args.node),
        transformResult: async (args) => args.result,
      }),
      { tokenTtl: 900 },
    );
    const token = (jti: string, clientId = app.client_id, account = accountId, signedBy = kid) => ({
      accountId: account,
      jti,
      clientId,
      kid: signedBy,
      iat: Math.floor(Date.now() / 1000),
    });
    const answers = await Promise.all([
      standing.stands(token('fine')),
      standing.stands(token('revoked')),
      standing.stands(token('fine', gone.client_id)),
      standing.stands(token('fine', 'no-such-client')),
      standing.stands(token('fine', app.client_id, 'ANOTHERACCOUNTAAAAAAAAAAAA')),
      standing.stands(token('fine')),
      standing.stands(token('fine', app.client_id, accountId, retired)),
      standing.stands(token('fine', app.client_id, accountId, leaked)),
      standing.stands(token('fine', app.client_id, accountId, lapsed)),
      standing.stands(token('fine', app.client_id, accountId, 'no-such-key')),
    ]);
    expect(answers).toEqual([true, false, false, false, false, true, true, false, false, false]);
    expect(queries).toBe(1);
    expect(await standing.check(token('fine', app.client_id, accountId, leaked))).toEqual({
      stands: false,
      keyGone: true,
    });
    expect(await standing.check(token('revoked'))).toEqual({ stands: false, keyGone: false });
    // A revocation counts from the next check.
    await insertRevocation(t.core.database.db, {
      account_id: accountId,
      jti: 'fine',
      client_id: app.client_id,
      expires_at: new Date(Date.now() + 60_000),
    });
    expect(await standing.stands(token('fine'))).toBe(false);
  });
});
