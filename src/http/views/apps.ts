/**
 * OAuth apps as the API shows them: never the secret hash; the client secret only in the answers of
 * create and rotate.
 */
import { Type, type Static } from 'typebox';
import { describeApp } from '../../oauth/apps.js';
import type { AppRow } from '../../store/apps.js';

export const AppSchema = Type.Object(
  {
    id: Type.String(),
    client_id: Type.String(),
    name: Type.String(),
    permissions: Type.Array(Type.String()),
    auth_method: Type.String(),
    jwks: Type.Union([Type.Null(), Type.Object({ keys: Type.Array(Type.Object({}, { additionalProperties: true })) })]),
    dpop_required: Type.Boolean(),
    constraints: Type.Object({
      allowed_group_ids: Type.Array(Type.String()),
      protected_roles: Type.Array(Type.String()),
      max_suspensions_per_hour: Type.Union([Type.Integer(), Type.Null()]),
      maker: Type.Object(
        { user_id: Type.Union([Type.String(), Type.Null()]), role: Type.Union([Type.String(), Type.Null()]) },
        { description: 'Who made the app and their role then (null: the operator)' },
      ),
      maker_ceiling: Type.Object(
        {
          powerless: Type.Boolean(),
          roles_out_of_reach: Type.Array(Type.String()),
          permissions_withheld: Type.Array(Type.String()),
        },
        {
          description:
            "What the maker's role, then and now, keeps the app from: it never holds more power than its maker",
        },
      ),
    }),
    create_time: Type.String(),
    secret_rotate_time: Type.Union([Type.String(), Type.Null()]),
    disable_time: Type.Union([Type.String(), Type.Null()]),
  },
  { title: 'OAuth app' },
);
export const AppWithSecretSchema = Type.Intersect([
  AppSchema,
  Type.Object({ client_secret: Type.Optional(Type.String()) }),
]);

/** An app: what may be shown of it (oauth/apps.ts `describeApp`, which its `app.create` entry records too). */
export function appView(app: AppRow): Static<typeof AppSchema> {
  return describeApp(app);
}
