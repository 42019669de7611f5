import { beforeEach, expect, it } from 'vitest';
import { describeBackends, useSharedCore } from '../../test/support/backends.js';
import { seedAccount, testCtx, type SeededAccount } from '../../test/support/fixtures.js';
import { AppLookup } from './app-lookup.js';
import { createApp, disableApp, rotateAppSecret } from './apps.js';

describeBackends('app lookup', (backend) => {
  const t = useSharedCore(backend);
  let seed: SeededAccount;
  beforeEach(async () => {
    seed = await seedAccount(t.core, 1);
  });
  const newApp = (name: string) =>
    createApp(t.core.directory, testCtx, seed.accountId, { name, permissions: ['users:list'] });

  it('answers lookups asked for in one turn with one query, each with its own app', async () => {
    const [{ app: a }, { app: b }] = [await newApp('a'), await newApp('b')];
    let queries = 0;
    const lookup = new AppLookup(
      t.core.database.db.withPlugin({
        transformQuery: (args) => (queries++, args.node),
        transformResult: async (args) => args.result,
      }),
    );
    const found = await Promise.all(
      [a.client_id, b.client_id, a.client_id, 'no-such-client'].map((id) => lookup.findByClientId(id)),
    );
    expect(found.map((app) => app?.id)).toEqual([a.id, b.id, a.id, undefined]);
    expect(queries).toBe(1);
  });

  it('reads the row as it is when the lookup starts: a disable or a rotation counts at once', async () => {
    const { app } = await newApp('a');
    const lookup = new AppLookup(t.core.database.db);
    expect((await lookup.findByClientId(app.client_id))?.disabled_at).toBeNull();
    const { app: rotated } = await rotateAppSecret(t.core.directory, testCtx, seed.accountId, app.id);
    expect((await lookup.findByClientId(app.client_id))?.secret_hash).toBe(rotated.secret_hash);
    await disableApp(t.core.directory, testCtx, seed.accountId, app.id);
    expect((await lookup.findByClientId(app.client_id))?.disabled_at).toBeInstanceOf(Date);
  });
});
