/**
 * The one registry of app permissions. Each is one action on one resource; an app holds a fixed set.
 * There is deliberately no permission to approve or deny a plan: only people approve (ARCHITECTURE §2).
 */
export const PERMISSIONS = {
  'users:list': 'List the users of the account',
  'users:read': 'Read one user',
  'users:suspend': 'Suspend a user (revokes their sessions and tokens)',
  'users:reactivate': 'Reactivate a suspended user',
  'signals:write': 'Submit detection signals',
  'audit:read': 'Read the audit log, its checkpoints and proofs',
  'containments:release': 'Reactivate a user whose engine-opened containment is locked (with users:reactivate)',
  'sessions:revoke_all':
    "End every session of a user of the app's account (Global Token Revocation: POST /oauth/global-token-revocation)",
} as const;

export type Permission = keyof typeof PERMISSIONS;

export function isPermission(value: string): value is Permission {
  return Object.hasOwn(PERMISSIONS, value);
}
