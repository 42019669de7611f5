/**
 * The directory as administrators see it through the API: a user's profile (role, externally managed,
 * groups), a user's sessions (never their tokens), a group with its members.
 */
import { Type, type Static } from 'typebox';
import type { Group, Session, User } from '../../storage/schema.js';
import type { Executor } from '../../store/executor.js';
import { listGroupIdsOfUser, listMemberIds } from '../../store/groups.js';
import type { ListedUser } from '../../store/users.js';

export const RoleSchema = Type.Union([Type.Literal('OWNER'), Type.Literal('ADMIN'), Type.Literal('MEMBER')]);

export const UserProfileSchema = Type.Object(
  {
    id: Type.String(),
    email: Type.String(),
    display_name: Type.String(),
    state: Type.String(),
    role: RoleSchema,
    externally_managed: Type.Boolean(),
    group_ids: Type.Array(Type.String()),
    create_time: Type.String({ format: 'date-time' }),
    update_time: Type.String({ format: 'date-time' }),
  },
  { title: 'UserProfile' },
);

export const UserViewSchema = Type.Object(
  {
    id: Type.String(),
    email: Type.String(),
    display_name: Type.String(),
    state: Type.String(),
    role: RoleSchema,
    externally_managed: Type.Boolean(),
    create_time: Type.String({ format: 'date-time' }),
    update_time: Type.String({ format: 'date-time' }),
  },
  { title: 'UserView' },
);

export const SessionSchema = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  create_time: Type.String({ format: 'date-time' }),
  expire_time: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  revoke_time: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  revoke_reason: Type.Union([Type.String(), Type.Null()]),
});

export const GroupSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  member_ids: Type.Array(Type.String()),
  create_time: Type.String({ format: 'date-time' }),
});

/** A user as administrators see one (without groups: one query fewer, for lists). */
export function userView(user: ListedUser): Static<typeof UserViewSchema> {
  return {
    id: user.id,
    email: user.email,
    display_name: user.display_name,
    state: user.state,
    role: user.role,
    externally_managed: user.externally_managed,
    create_time: user.created_at.toISOString(),
    update_time: user.updated_at.toISOString(),
  };
}

/** `userView` with the ids of the user's groups. */
export async function userProfile(db: Executor, user: User): Promise<Static<typeof UserProfileSchema>> {
  return { ...userView(user), group_ids: await listGroupIdsOfUser(db, user.account_id, user.id) };
}

/** A session as administrators see one (never its token's hash). */
export function sessionView(session: Session): Static<typeof SessionSchema> {
  const iso = (at: Date | null) => (at ? at.toISOString() : null);
  return {
    id: session.id,
    kind: session.kind,
    create_time: session.created_at.toISOString(),
    expire_time: iso(session.expires_at),
    revoke_time: iso(session.revoked_at),
    revoke_reason: session.revoke_reason,
  };
}

/** A group with its members' ids, as the API and the CLI show one. */
export async function groupView(db: Executor, group: Group): Promise<Static<typeof GroupSchema>> {
  return {
    id: group.id,
    name: group.name,
    member_ids: await listMemberIds(db, group.account_id, group.id),
    create_time: group.created_at.toISOString(),
  };
}
