import { generateKeyPairSync } from 'node:crypto';
import { beforeEach, expect, it } from 'vitest';
import { describeBackends, useSharedCore } from '../../test/support/backends.js';
import { seedAccount, testCtx, type SeededAccount } from '../../test/support/fixtures.js';
import { createAccount } from '../directory/accounts.js';
import { createGroup } from '../directory/groups.js';
import { listAuditEntries } from '../store/audit.js';
import { AppLookup } from './app-lookup.js';
import { createApp, disableApp, getApp, listApps, rotateAppSecret } from './apps.js';
import { verifyClientSecret } from './client-secret.js';
import { parseSecret } from '../secret-format.js';

describeBackends('OAuth apps', (backend) => {
  const t = useSharedCore(backend);
  let seed: SeededAccount;
  beforeEach(async () => {
    seed = await seedAccount(t.core, 1);
  });

  const entries = async () => {
    await t.core.audit.sequencer.drain();
    return listAuditEntries(t.core.database.db, { accountId: seed.accountId });
  };

  it('creates an app with fixed permissions and a 256-bit secret that is stored only as a hash', async () => {
    const soc = await createGroup(t.core.directory, testCtx, seed.accountId, 'SOC targets');
    const { app, clientSecret } = await createApp(t.core.directory, testCtx, seed.accountId, {
      name: ' SOAR ',
      permissions: ['users:list', 'users:suspend', 'users:list'],
      allowed_group_ids: [soc.id],
      protected_roles: ['OWNER', 'ADMIN'],
      max_suspensions_per_hour: 20,
    });
    expect(app).toMatchObject({
      name: 'SOAR',
      permissions: ['users:list', 'users:suspend'],
      auth_method: 'client_secret_basic',
      dpop_required: false,
      allowed_group_ids: [soc.id],
      protected_roles: ['OWNER', 'ADMIN'],
      max_suspensions_per_hour: 20,
      disabled_at: null,
    });
    expect(app.client_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseSecret(clientSecret!)).toEqual({ ok: true, kind: 'cs' });
    expect(app.secret_hash).not.toContain(clientSecret);
    expect(verifyClientSecret(clientSecret!, app.secret_hash)).toBe(true);
    expect(verifyClientSecret(`${clientSecret}x`, app.secret_hash)).toBe(false);
    expect((await new AppLookup(t.core.database.db).findByClientId(app.client_id))?.id).toBe(app.id);

    const created = (await entries()).find((e) => e.action === 'app.create')!;
    expect(created).toMatchObject({
      target_type: 'app',
      target_id: app.id,
      outcome: 'changed',
      details: { client_id: app.client_id, permissions: ['users:list', 'users:suspend'] },
    });
    expect(JSON.stringify(await entries())).not.toContain(clientSecret);
    expect(JSON.stringify(created)).not.toContain(app.secret_hash!);
  });

  it('refuses unknown permissions (there is no approval permission), bad methods and private keys', async () => {
    const create = (input: Record<string, unknown>) =>
      createApp(t.core.directory, testCtx, seed.accountId, { name: 'x', permissions: ['users:read'], ...input });
    await expect(create({ permissions: ['approvals:approve'] })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      description: expect.stringContaining('unknown approvals:approve'),
    });
    await expect(create({ permissions: [] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(create({ auth_method: 'none' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(create({ protected_roles: ['ROOT'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(create({ max_suspensions_per_hour: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(create({ allowed_group_ids: ['AAAAAAAAAAAAAAAAAAAAAAAAAA'] })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await expect(
      create({ auth_method: 'private_key_jwt', jwks: { keys: [privateKey.export({ format: 'jwk' })] } }),
    ).rejects.toMatchObject({
      description: expect.stringContaining('private material'),
    });
    const { app, clientSecret } = await create({
      auth_method: 'private_key_jwt',
      jwks: { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1' }] },
    });
    expect(clientSecret).toBeUndefined();
    expect(app.secret_hash).toBeNull();
    expect(app.jwks!.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', kid: 'k1' });
    await expect(rotateAppSecret(t.core.directory, testCtx, seed.accountId, app.id)).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
    });
    expect(await listApps(t.core.directory, seed.accountId)).toHaveLength(1);
  });

  it('rotates the secret (the old one stops working) and disables idempotently, auditing both', async () => {
    const { app, clientSecret } = await createApp(t.core.directory, testCtx, seed.accountId, {
      name: 'SIEM',
      permissions: ['audit:read'],
      auth_method: 'client_secret_post',
    });
    const rotated = await rotateAppSecret(t.core.directory, testCtx, seed.accountId, app.id);
    expect(rotated.clientSecret).not.toBe(clientSecret);
    expect(verifyClientSecret(clientSecret!, rotated.app.secret_hash)).toBe(false);
    expect(verifyClientSecret(rotated.clientSecret, rotated.app.secret_hash)).toBe(true);

    expect((await disableApp(t.core.directory, testCtx, seed.accountId, app.id)).changed).toBe(true);
    expect((await disableApp(t.core.directory, testCtx, seed.accountId, app.id)).changed).toBe(false);
    expect((await getApp(t.core.directory, seed.accountId, app.id)).disabled_at).not.toBeNull();
    await expect(rotateAppSecret(t.core.directory, testCtx, seed.accountId, app.id)).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
    });
    const actions = (await entries()).filter((e) => e.target_id === app.id).map((e) => [e.action, e.outcome]);
    expect(actions).toEqual([
      ['app.create', 'changed'],
      ['app.secret.rotate', 'changed'],
      ['app.disable', 'changed'],
      ['app.disable', 'unchanged'],
    ]);
    expect(JSON.stringify(await entries())).not.toContain(rotated.clientSecret);
  });

  it('keeps apps inside their account', async () => {
    const { app } = await createApp(t.core.directory, testCtx, seed.accountId, {
      name: 'Ours',
      permissions: ['users:read'],
    });
    const { account: other } = await createAccount(t.core.directory, testCtx, {
      name: 'Other',
      owner: { email: 'o@other.example', display_name: 'O' },
    });
    await expect(getApp(t.core.directory, other.id, app.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(disableApp(t.core.directory, testCtx, other.id, app.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(rotateAppSecret(t.core.directory, testCtx, other.id, app.id)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await listApps(t.core.directory, other.id)).toEqual([]);
    const soc = await createGroup(t.core.directory, testCtx, seed.accountId, 'SOC');
    await expect(
      createApp(t.core.directory, testCtx, other.id, {
        name: 'x',
        permissions: ['users:read'],
        allowed_group_ids: [soc.id],
      }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
