/**
 * Suspend and reactivate: the rules every caller (CLI, Users API, response engine) goes through.
 *
 * - Idempotent: a user already in the target state comes back unchanged (and the call is audited).
 * - Externally managed users and the last active owner are refused, with distinct codes.
 * - An app acts only within its constraints (`deps.appConstraints`: oauth/constraints.ts); an ADMIN on MEMBERs only.
 * - Suspension revokes every live session in the same transaction; reactivation revives none.
 * - Every suspension opens a containment record and every reactivation closes it, in the change's own
 *   statement; a locked record (the engine's) refuses :reactivate unless the caller restores through it
 *   or is an app holding containments:release under a restore policy of at most one approval.
 * - The user's row lock orders concurrent calls on one user, so the final state is the target of the
 *   last call to commit, and that call's audit entry is the last one for the user.
 */
import { isAppError, AppError } from '../errors.js';
import { toAuditRow, toJsonText, type AuditEntryInput, type CallContext } from '../audit/entry.js';
import { newId } from '../ids.js';
import { findOpenContainment } from '../store/containments.js';
import type { Transaction } from 'kysely';
import type { Database, User, UserRole, UserState } from '../storage/schema.js';
import type { AppConstraints } from '../store/tokens.js';
import { readAutomation } from '../store/automation.js';
import {
  applyUserState,
  lockUserById,
  type CloseContainment,
  type OpenContainment,
  type StatementPrecondition,
} from '../store/users.js';
import type { DirectoryDeps } from './deps.js';
import { assertAnotherOwner, assertMayManage } from './user-admin.js';
import { assertAccountExists } from './users.js';

export interface StateChangeResult<T = never> {
  user: User;
  changed: boolean;
  sessionsRevoked: string[];
  /** The containment record the change opened (a suspension) or closed (a reactivation). */
  containmentId?: string | null;
  /** With a precondition that was not met: nothing changed, and this is its report. */
  unmet?: T;
}

export interface StateChangeOptions<T = never> {
  /** An app caller's constraints as its guard read them on this request; read in the transaction otherwise. */
  constraints?: AppConstraints | undefined;
  /** A signed-in person's role: an ADMIN may act on MEMBERs only (see user-admin.ts). */
  actorRole?: UserRole | undefined;
  /**
   * A condition checked in the change's own statement (applyUserState), such as the response engine's blast-radius
   * slots.
   */
  precondition?: StatementPrecondition<T> | undefined;
  /** A suspension by the response engine: the plan, whether its containment is locked, when to restore. */
  containment?: { planId: string; locked: boolean; restoreAfterSeconds: number | null } | undefined;
  /** A reactivation that is a restore through the containment record (response/restores.ts). */
  restore?: { reason: 'restored' | 'false_positive' } | undefined;
}

export function suspendUser(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  userId: string,
  options: StateChangeOptions = {},
): Promise<StateChangeResult> {
  return changeUserState(deps, ctx, accountId, userId, 'SUSPENDED', options);
}

export function reactivateUser(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  userId: string,
  options: StateChangeOptions = {},
): Promise<StateChangeResult> {
  return changeUserState(deps, ctx, accountId, userId, 'ACTIVE', options);
}

async function changeUserState(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  userId: string,
  target: UserState,
  options: StateChangeOptions,
): Promise<StateChangeResult> {
  const entry = stateEntry(ctx, accountId, userId, target);
  try {
    return await deps.audit.transact(async (trx) => {
      const user = await lockUserById(trx, accountId, userId);
      if (!user) throw new AppError('USER_NOT_FOUND', { metadata: { user_id: userId } });
      return changeLockedUserState(deps, trx, ctx, user, target, options);
    });
  } catch (error) {
    if (!isAppError(error)) throw error;
    // An unknown account has no log to write to (and a caller must not be able to create one).
    if (error.code === 'USER_NOT_FOUND') await assertAccountExists(deps, accountId);
    // The refusal changed nothing, so it is recorded on its own, through the group commit.
    await deps.audit.record({ ...entry, outcome: 'refused', details: { code: error.code } });
    error.audited = true;
    throw error;
  }
}

function stateEntry(ctx: CallContext, accountId: string, userId: string, target: UserState) {
  return {
    accountId,
    ctx,
    action: target === 'SUSPENDED' ? 'user.suspend' : 'user.reactivate',
    target: { type: 'user', id: userId },
  } satisfies Partial<AuditEntryInput>;
}

/**
 * The rules and the change, inside the caller's transaction, on a user whose row the caller locked
 * (`lockUserById`): what the response engine runs as part of a plan's transaction. A refusal throws
 * before anything is written; recording it is the caller's business.
 */
export async function changeLockedUserState<T = never>(
  deps: DirectoryDeps,
  trx: Transaction<Database>,
  ctx: CallContext,
  user: User,
  target: UserState,
  options: StateChangeOptions<T> = {},
): Promise<StateChangeResult<T>> {
  const entry = stateEntry(ctx, user.account_id, user.id, target);
  // An app may only act within its constraints, whichever route it came by.
  const constraints =
    ctx.actor.type === 'app'
      ? await deps.appConstraints(trx, user.account_id, ctx.actor.id, user, options.constraints)
      : undefined;
  assertMayManage(options.actorRole, user.role, target === 'SUSPENDED' ? 'suspend' : 'reactivate');
  if (user.state === target) {
    await deps.audit.append(trx, { ...entry, outcome: 'unchanged', details: { state: target } });
    return { user, changed: false, sessionsRevoked: [] };
  }
  if (user.externally_managed) throw new AppError('EXTERNALLY_MANAGED', { metadata: { user_id: user.id } });
  // The user is active here (not in the target state): suspending the last active owner is refused.
  if (target === 'SUSPENDED') await assertAnotherOwner(trx, user);
  await constraints?.beforeChange(target);
  const containment =
    target === 'SUSPENDED'
      ? { open: openContainment(ctx, options) }
      : { close: await closeContainment(trx, ctx, user, options) };
  const applied = await applyUserState(trx, {
    containment,
    accountId: user.account_id,
    userId: user.id,
    state: target,
    revokeReason: target === 'SUSPENDED' ? 'user_suspended' : null,
    audit: toAuditRow({ ...entry, outcome: 'changed', details: { from: user.state, to: target } }),
    precondition: options.precondition,
  });
  if ('unmet' in applied) return { user, changed: false, sessionsRevoked: [], unmet: applied.unmet };
  // A restore writes its own remote steps (response/restores.ts); any other closing undoes the remote side here.
  if (target === 'ACTIVE' && !options.restore && applied.containmentId && deps.containmentClosed)
    await deps.containmentClosed(trx, user.account_id, applied.containmentId, ctx);
  return {
    user: applied.user,
    changed: true,
    sessionsRevoked: applied.sessionsRevoked,
    containmentId: applied.containmentId,
  };
}

/** Every suspension opens a containment record; only the engine's are locked or restore themselves. */
function openContainment(ctx: CallContext, options: StateChangeOptions<unknown>): OpenContainment {
  return {
    id: newId(),
    planId: options.containment?.planId ?? null,
    locked: options.containment?.locked ?? false,
    restoreAfterSeconds: options.containment?.restoreAfterSeconds ?? null,
    cause: toJsonText(ctx.cause ?? {}),
    openedBy: toJsonText({ actor: ctx.actor, authz: ctx.authz }),
  };
}

/**
 * How this reactivation closes the user's open containment record. A locked record (the engine's) gives
 * way only to a restore through it, or to an app holding containments:release, so that another
 * automation cannot silently re-enable a contained account.
 */
async function closeContainment(
  trx: Transaction<Database>,
  ctx: CallContext,
  user: User,
  options: StateChangeOptions<unknown>,
): Promise<CloseContainment> {
  const closedBy = toJsonText({ actor: ctx.actor, authz: ctx.authz });
  if (options.restore) return { reason: options.restore.reason, closedBy };
  const open = await findOpenContainment(trx, user.account_id, user.id);
  if (!open?.locked) return { reason: 'reactivated', closedBy };
  const permissions = ctx.actor.type === 'app' ? (ctx.authz['permissions'] as string[] | undefined) : undefined;
  if (!permissions?.includes('containments:release'))
    throw new AppError('CONTAINMENT_LOCKED', { metadata: { user_id: user.id, containment_id: open.id } });
  // The release must satisfy the restore policy in force: the app's request counts as one approval,
  // as a person's does; under the two-person rule it waits for a person (response/restores.ts).
  const required = (await readAutomation(trx, user.account_id)).restore_approvals;
  if (required > 1)
    throw new AppError('RELEASE_NEEDS_APPROVAL', {
      metadata: { user_id: user.id, containment_id: open.id, approvals_required: String(required) },
    });
  return { reason: 'released', closedBy };
}
