/**
 * Users as the Users API shows them: 1Password's `user.v1beta1.User` and its list response, exactly
 * (reference/users-api-compat.md).
 */
import { Type, type Static } from 'typebox';
import type { ListedUser } from '../../store/users.js';

/** `user.v1beta1.User`: exactly these fields. */
export const ApiUserSchema = Type.Object(
  {
    id: Type.String(),
    email: Type.String(),
    display_name: Type.String(),
    state: Type.Union([Type.Literal('ACTIVE'), Type.Literal('SUSPENDED'), Type.Literal('STATE_UNSPECIFIED')]),
    create_time: Type.String({ format: 'date-time' }),
    path: Type.String({ description: 'accounts/{account}/users/{user}' }),
  },
  { title: 'User', additionalProperties: false },
);

export const ListResponseSchema = Type.Object(
  {
    results: Type.Array(ApiUserSchema),
    next_page_token: Type.Optional(Type.String({ description: 'Opaque; absent on the last page' })),
  },
  { title: 'ListUsersResponse', additionalProperties: false },
);

/** RFC 3339 to the second, as the contract's examples show it. */
const apiTime = (at: Date) => at.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** A user as the Users API shows one. */
export function apiUserView(user: ListedUser): Static<typeof ApiUserSchema> {
  return {
    id: user.id,
    email: user.email,
    display_name: user.display_name,
    state: user.state,
    create_time: apiTime(user.created_at),
    path: `accounts/${user.account_id}/users/${user.id}`,
  };
}
