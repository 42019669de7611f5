/**
 * The constraints an admin sets on an app (oauth/apps.ts), enforced wherever an app changes a user's
 * state, inside that change's transaction: the ceiling of the person who made it (maker-ceiling.ts; their
 * role read again here, under a share lock), the groups the app may act on (the user must be in one),
 * the roles it may never touch, and its suspensions per hour (a sliding hour, counted under the app's
 * row lock so that concurrent calls cannot overshoot). A refusal names the constraint in its metadata.
 * The directory runs it as `DirectoryDeps.appConstraints`, which the composition root (app.ts) sets.
 */
import { AppError } from '../errors.js';
import type { User, UserState } from '../storage/schema.js';
import { findAppByClientId, readUserRole, takeSuspensionSlot } from '../store/apps.js';
import type { Executor } from '../store/executor.js';
import type { AppConstraints } from '../store/tokens.js';
import { listGroupIdsOfUser } from '../store/groups.js';
import { describeCeiling, makerCeiling } from './maker-ceiling.js';

/**
 * Refuses with APP_CONSTRAINT when the app may not act on this user at all; returns the check to run
 * right before a change. `known` are the constraints the guard read with the token's standing on this
 * request; without them (another caller) they are read here.
 */
export async function enforceAppConstraints(
  trx: Executor,
  accountId: string,
  clientId: string,
  user: User,
  known?: AppConstraints,
): Promise<{ beforeChange(target: UserState): Promise<void> }> {
  const app = known ?? (await findAppByClientId(trx, accountId, clientId));
  if (!app)
    throw new AppError('PERMISSION_DENIED', {
      description: 'the app no longer exists',
      metadata: { client_id: clientId },
    });
  const [makerId, roleThen] =
    'maker' in app ? [app.maker.user_id, app.maker.role_then] : [app.created_by, app.created_by_role];
  if (makerId !== null) {
    // The maker's role now, read in this transaction: what the guard read may already be stale.
    const maker = { user_id: makerId, role_then: roleThen, role_now: await readUserRole(trx, accountId, makerId) };
    const ceiling = makerCeiling(maker);
    if (ceiling.powerless || ceiling.roles_out_of_reach.includes(user.role)) {
      throw new AppError('APP_CONSTRAINT', {
        description: `app_constraint: ${describeCeiling(maker, ceiling)}`,
        metadata: { constraint: 'maker_ceiling', role: user.role },
      });
    }
  }
  if (app.protected_roles.includes(user.role)) {
    throw new AppError('APP_CONSTRAINT', {
      description: `app_constraint: the app may not act on ${user.role} users`,
      metadata: { constraint: 'protected_roles', role: user.role },
    });
  }
  if (app.allowed_group_ids.length > 0) {
    const groups = await listGroupIdsOfUser(trx, accountId, user.id);
    if (!groups.some((id) => app.allowed_group_ids.includes(id))) {
      throw new AppError('APP_CONSTRAINT', {
        description: 'app_constraint: the user is in none of the groups the app may act on',
        metadata: { constraint: 'allowed_group_ids' },
      });
    }
  }
  return {
    async beforeChange(target) {
      if (target !== 'SUSPENDED' || app.max_suspensions_per_hour === null) return;
      // Read again under the lock: the cap counts what committed before us, under the cap as it is now.
      const locked = await findAppByClientId(trx, accountId, clientId, true);
      const cap = locked?.max_suspensions_per_hour ?? null;
      if (!locked || cap === null) return;
      const slot = await takeSuspensionSlot(trx, locked, user.id, cap);
      if (!slot.taken) {
        const seconds = Math.max(1, Math.ceil((slot.freeAt.getTime() - Date.now()) / 1000));
        throw new AppError('SUSPENSION_CAP', {
          description:
            `suspension_cap: the app may suspend ${cap} users an hour; ` + `the next one is allowed in ${seconds} s`,
          metadata: { constraint: 'max_suspensions_per_hour', cap: String(cap) },
          headers: { 'retry-after': String(seconds) },
        });
      }
    },
  };
}
