/**
 * OAuth apps: created inside an account with a fixed set of permissions, an authentication method,
 * and constraints the Users API enforces. The client secret is shown once, at creation or rotation.
 *
 * An app never holds more power than the person who made it (maker-ceiling.ts): each app records its
 * maker and their role; only an OWNER grants `containments:release`, and only an OWNER disables or
 * rotates an app an OWNER (or the operator) made.
 */
import { randomUUID } from 'node:crypto';
import type { CallContext } from '../audit/entry.js';
import type { DirectoryDeps } from '../directory/deps.js';
import { assertAccountExists } from '../directory/users.js';
import { ROLES } from '../directory/validate.js';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import type { AuthMethod, OAuthApp, UserRole } from '../storage/schema.js';
import {
  findAppById,
  insertApp,
  listApps as listAppRows,
  lockAppById,
  readUserRole,
  updateApp,
  type AppRow,
} from '../store/apps.js';
import type { Executor } from '../store/executor.js';
import { listGroups } from '../store/groups.js';
import { generateClientSecret, hashClientSecret } from './client-secret.js';
import { makerCeiling } from './maker-ceiling.js';
import { isPermission, PERMISSIONS } from './permissions.js';

export const AUTH_METHODS: readonly AuthMethod[] = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'];

/** Members of a JWK that only a private key has: an app's JWKS must never carry one. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

export interface NewAppInput {
  name: string;
  permissions: string[];
  auth_method?: AuthMethod | undefined;
  jwks?: { keys: Record<string, unknown>[] } | undefined;
  dpop_required?: boolean | undefined;
  allowed_group_ids?: string[] | undefined;
  protected_roles?: string[] | undefined;
  max_suspensions_per_hour?: number | null | undefined;
}

export interface CreatedApp {
  app: AppRow;
  /** Only for the client_secret_* methods; shown this once. */
  clientSecret: string | undefined;
}

function invalid(description: string): AppError {
  return new AppError('INVALID_ARGUMENT', { description });
}

/** The members an app's public key may carry; anything else (x5c chains, private members) is refused. */
const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e', 'kid', 'alg', 'use', 'key_ops'];

function checkJwks(jwks: unknown): { keys: Record<string, unknown>[] } {
  const keys = (jwks as { keys?: unknown } | undefined)?.keys;
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > 10)
    throw invalid('jwks: expected {"keys": [...]} with 1 to 10 public keys');
  for (const key of keys as Record<string, unknown>[]) {
    if (typeof key !== 'object' || key === null || !['EC', 'RSA', 'OKP'].includes(key.kty as string))
      throw invalid('jwks: every key needs kty EC, RSA or OKP');
    if (PRIVATE_MEMBERS.some((m) => m in key))
      throw invalid('jwks: a key holds private material; give public keys only');
    const extra = Object.keys(key).filter((m) => !PUBLIC_MEMBERS.includes(m));
    if (extra.length > 0) throw invalid(`jwks: unsupported key members: ${extra.join(', ').slice(0, 100)}`);
    // RSA up to 4096 bits (683 base64url characters), exponent of at most 4 bytes.
    if (typeof key.n === 'string' && key.n.length > 683) throw invalid('jwks: RSA keys of at most 4096 bits');
    if (typeof key.e === 'string' && key.e.length > 6) throw invalid('jwks: RSA exponent too large');
  }
  if (JSON.stringify(keys).length > 16_384) throw invalid('jwks: at most 16 KiB');
  return { keys: keys as Record<string, unknown>[] };
}

export async function createApp(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  input: NewAppInput,
): Promise<CreatedApp> {
  const name = input.name?.trim() ?? '';
  if (name.length === 0 || name.length > 100) throw invalid('name: expected 1 to 100 characters');
  const permissions = [...new Set(input.permissions)];
  if (permissions.length === 0) throw invalid('permissions: give at least one');
  const unknown = permissions.filter((p) => !isPermission(p));
  if (unknown.length > 0)
    throw invalid(`permissions: unknown ${unknown.join(', ')}; known: ${Object.keys(PERMISSIONS).join(', ')}`);
  const authMethod = input.auth_method ?? 'client_secret_basic';
  if (!AUTH_METHODS.includes(authMethod)) throw invalid(`auth_method: expected one of ${AUTH_METHODS.join(', ')}`);
  const jwks = authMethod === 'private_key_jwt' ? checkJwks(input.jwks) : undefined;
  if (authMethod !== 'private_key_jwt' && input.jwks !== undefined)
    throw invalid('jwks: only for auth_method private_key_jwt');
  const protectedRoles = [...new Set(input.protected_roles ?? [])];
  if (protectedRoles.some((r) => !ROLES.includes(r as never)))
    throw invalid(`protected_roles: expected roles among ${ROLES.join(', ')}`);
  const cap = input.max_suspensions_per_hour ?? null;
  if (cap !== null && (!Number.isInteger(cap) || cap < 1 || cap > 100_000))
    throw invalid('max_suspensions_per_hour: expected an integer from 1 to 100000');
  const groupIds = [...new Set(input.allowed_group_ids ?? [])];

  const clientSecret = jwks ? undefined : generateClientSecret();
  const app = await deps.audit.transact(async (trx) => {
    await assertAccountExists({ db: trx }, accountId);
    const maker = await personActing(trx, ctx, accountId);
    if (maker && maker.role !== 'OWNER' && permissions.includes('containments:release')) {
      throw new AppError('PERMISSION_DENIED', { description: 'only an OWNER may grant containments:release' });
    }
    const known = new Set((await listGroups(trx, accountId)).map((g) => g.id));
    const missing = groupIds.filter((g) => !known.has(g));
    if (missing.length > 0) throw invalid(`allowed_group_ids: no such group in this account: ${missing.join(', ')}`);
    const row = await insertApp(trx, {
      account_id: accountId,
      id: newId(),
      client_id: randomUUID(),
      name,
      permissions,
      auth_method: authMethod,
      jwks: jwks ? JSON.stringify(jwks) : null,
      dpop_required: input.dpop_required ?? false,
      allowed_group_ids: groupIds,
      protected_roles: protectedRoles,
      max_suspensions_per_hour: cap,
      secret_hash: clientSecret ? hashClientSecret(clientSecret) : null,
      created_by: maker?.userId ?? null,
      created_by_role: maker?.role ?? null,
    });
    await deps.audit.append(trx, {
      accountId,
      ctx,
      action: 'app.create',
      target: { type: 'app', id: row.id },
      outcome: 'changed',
      details: { ...describeApp({ ...row, maker_role_now: maker?.role ?? null }) },
    });
    return { ...row, maker_role_now: maker?.role ?? null };
  });
  return { app, clientSecret };
}

/**
 * The person a call acts for, with their role read now under a share lock (null: the operator, who is
 * above every role). A person whose role no longer allows administering apps is refused.
 */
async function personActing(
  trx: Executor,
  ctx: CallContext,
  accountId: string,
): Promise<{ userId: string; role: 'OWNER' | 'ADMIN' } | null> {
  if (ctx.actor.type !== 'user') return null;
  const role = await readUserRole(trx, accountId, ctx.actor.id);
  if (role !== 'OWNER' && role !== 'ADMIN')
    throw new AppError('PERMISSION_DENIED', { description: 'only OWNER and ADMIN users administer apps' });
  return { userId: ctx.actor.id, role };
}

/** Only an OWNER may disable or rotate an app an OWNER, or the operator, made. */
export async function assertMayAdminister(
  trx: Executor,
  ctx: CallContext,
  app: OAuthApp,
  what: string,
): Promise<UserRole | null> {
  const person = await personActing(trx, ctx, app.account_id);
  if (person && person.role !== 'OWNER' && app.created_by_role !== 'ADMIN') {
    throw new AppError('PERMISSION_DENIED', {
      description: `only an OWNER may ${what} an app an OWNER made`,
      metadata: { app_id: app.id },
    });
  }
  return app.created_by === null ? null : readUserRole(trx, app.account_id, app.created_by);
}

export async function getApp(deps: Pick<DirectoryDeps, 'db'>, accountId: string, appId: string): Promise<AppRow> {
  const app = await findAppById(deps.db, accountId, appId);
  if (!app) throw new AppError('NOT_FOUND', { description: 'app not found' });
  return app;
}

export function listApps(deps: Pick<DirectoryDeps, 'db'>, accountId: string): Promise<AppRow[]> {
  return listAppRows(deps.db, accountId);
}

/** Disables an app: its tokens stop working and it gets no new ones. Idempotent. */
export async function disableApp(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  appId: string,
): Promise<{ app: AppRow; changed: boolean }> {
  return deps.audit.transact(async (trx) => {
    const app = await lockAppById(trx, accountId, appId);
    if (!app) throw new AppError('NOT_FOUND', { description: 'app not found' });
    const makerRoleNow = await assertMayAdminister(trx, ctx, app, 'disable');
    const changed = app.disabled_at === null;
    const updated = changed ? await updateApp(trx, accountId, appId, { disabled_at: new Date() }) : app;
    await deps.audit.append(trx, {
      accountId,
      ctx,
      action: 'app.disable',
      target: { type: 'app', id: appId },
      outcome: changed ? 'changed' : 'unchanged',
    });
    return { app: { ...updated, maker_role_now: makerRoleNow }, changed };
  });
}

/** Replaces the client secret; the old one stops working at once. Returns the new one, shown this once. */
export async function rotateAppSecret(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  appId: string,
): Promise<{ app: AppRow; clientSecret: string }> {
  const clientSecret = generateClientSecret();
  return deps.audit.transact(async (trx) => {
    const app = await lockAppById(trx, accountId, appId);
    if (!app) throw new AppError('NOT_FOUND', { description: 'app not found' });
    const makerRoleNow = await assertMayAdminister(trx, ctx, app, 'rotate the secret of');
    if (app.auth_method === 'private_key_jwt')
      throw new AppError('FAILED_PRECONDITION', {
        description: 'the app authenticates with private_key_jwt: it has no secret',
      });
    if (app.disabled_at) throw new AppError('FAILED_PRECONDITION', { description: 'the app is disabled' });
    const updated = await updateApp(trx, accountId, appId, {
      secret_hash: hashClientSecret(clientSecret),
      secret_rotated_at: new Date(),
    });
    await deps.audit.append(trx, {
      accountId,
      ctx,
      action: 'app.secret.rotate',
      target: { type: 'app', id: appId },
      outcome: 'changed',
    });
    return { app: { ...updated, maker_role_now: makerRoleNow }, clientSecret };
  });
}

/**
 * What may be shown of an app: everything but its secret hash; its maker and the ceiling they set. Its
 * `app.create` entry records this, and the API shows it (http/views/apps.ts).
 */
export function describeApp(app: AppRow) {
  const maker = { user_id: app.created_by, role_then: app.created_by_role, role_now: app.maker_role_now };
  return {
    id: app.id,
    client_id: app.client_id,
    name: app.name,
    permissions: app.permissions,
    auth_method: app.auth_method,
    jwks: app.jwks,
    dpop_required: app.dpop_required,
    constraints: {
      allowed_group_ids: app.allowed_group_ids,
      protected_roles: app.protected_roles,
      max_suspensions_per_hour: app.max_suspensions_per_hour,
      maker: { user_id: maker.user_id, role: maker.role_then },
      maker_ceiling: makerCeiling(maker),
    },
    create_time: app.created_at.toISOString(),
    secret_rotate_time: app.secret_rotated_at?.toISOString() ?? null,
    disable_time: app.disabled_at?.toISOString() ?? null,
  };
}
