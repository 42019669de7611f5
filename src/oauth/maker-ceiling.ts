/**
 * An app never holds more power than the person who made it could exercise, checked where the app acts
 * (the resource guard and, for state changes, inside the change's transaction), not only where it is
 * made, because the maker's role can change later:
 * - an app an ADMIN made never acts on OWNERs or ADMINs (an ADMIN manages MEMBERs only) and never holds
 *   `containments:release` (only an OWNER grants it);
 * - when the maker is demoted, their apps are held to the lower role from the next request; when the maker
 *   is deleted or no longer an OWNER or ADMIN, their apps act on nothing.
 * Apps the operator made (the CLI on the database itself: no maker) have no ceiling.
 */
import type { UserRole } from '../storage/schema.js';
import type { AppMaker } from '../store/tokens.js';
import type { Permission } from './permissions.js';

export interface MakerCeiling {
  /** The maker can exercise nothing any more: the app may act on nothing. */
  powerless: boolean;
  /** Roles of users the app may never act on. */
  roles_out_of_reach: UserRole[];
  /** Permissions the app holds but its maker could not grant: they do not count. */
  permissions_withheld: Permission[];
}

const NO_CEILING: MakerCeiling = { powerless: false, roles_out_of_reach: [], permissions_withheld: [] };
const ADMIN_CEILING: MakerCeiling = {
  powerless: false,
  roles_out_of_reach: ['OWNER', 'ADMIN'],
  permissions_withheld: ['containments:release'],
};
const POWERLESS: MakerCeiling = {
  powerless: true,
  roles_out_of_reach: ['OWNER', 'ADMIN', 'MEMBER'],
  permissions_withheld: [],
};

/** The ceiling of an app: the lower of its maker's role then and now. */
export function makerCeiling(maker: AppMaker): MakerCeiling {
  if (maker.user_id === null) return NO_CEILING;
  if (maker.role_now !== 'OWNER' && maker.role_now !== 'ADMIN') return POWERLESS;
  return maker.role_then === 'OWNER' && maker.role_now === 'OWNER' ? NO_CEILING : ADMIN_CEILING;
}

/** What the maker's role allows of the permissions the app's token carries. */
export function permissionsWithinCeiling(permissions: string[], ceiling: MakerCeiling): string[] {
  if (ceiling.powerless) return [];
  return permissions.filter((p) => !ceiling.permissions_withheld.includes(p as Permission));
}

/** Why the maker's ceiling refuses, for the error's description. */
export function describeCeiling(maker: AppMaker, ceiling: MakerCeiling): string {
  if (ceiling.powerless) {
    return maker.role_now === null
      ? 'the person who made the app no longer exists: the app acts on nothing'
      : 'the person who made the app is no longer an OWNER or ADMIN: the app acts on nothing';
  }
  return (
    `the app was made by an ${maker.role_then === 'ADMIN' ? 'ADMIN' : 'OWNER since demoted to ADMIN'}: it may not ` +
    `act on ${ceiling.roles_out_of_reach.join(' or ')} users`
  );
}
