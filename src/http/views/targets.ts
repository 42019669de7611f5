/**
 * Targets as the API shows them: their kind, config and settings, never their credentials (sealed at
 * rest, and never shown after creation).
 */
import { Type, type Static } from 'typebox';
import { describeTarget, type TargetWithCount } from '../../targets/registry.js';
import type { TargetIdentityRow } from '../../store/targets.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const TargetSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    kind: Type.String(),
    config: Type.Object({}, { additionalProperties: true, description: 'What is not secret: URLs, version, auth' }),
    enabled: Type.Boolean(),
    max_concurrency: Type.Integer(),
    max_rate_per_second: Type.Integer(),
    step_deadline_seconds: Type.Integer(),
    sync_interval_seconds: Type.Integer(),
    credentials_rotate_time: Nullable(Type.String()),
    create_time: Type.String(),
    last_sync_time: Nullable(Type.String()),
    last_sync_error: Nullable(Type.String()),
    identities: Type.Integer({ description: 'How many of its users Cordon mirrors' }),
  },
  { title: 'Target' },
);

export function targetView(row: TargetWithCount): Static<typeof TargetSchema> {
  return {
    id: row.id,
    ...describeTarget(row),
    credentials_rotate_time: row.credentials_rotated_at?.toISOString() ?? null,
    create_time: row.created_at.toISOString(),
    last_sync_time: row.last_sync_at?.toISOString() ?? null,
    last_sync_error: row.last_sync_error,
    identities: row.identities,
  };
}

const TargetErrorSchema = Type.Object({
  class: Type.String(),
  status: Type.Union([Type.Integer(), Type.Null()]),
  code: Nullable(Type.String()),
  message: Type.String(),
  request_id: Nullable(Type.String()),
});

export const HealthSchema = Type.Object({
  ok: Type.Boolean(),
  latency_ms: Type.Integer(),
  error: Type.Optional(TargetErrorSchema),
});

export const SyncResultSchema = Type.Object({
  target_id: Type.String(),
  mode: Type.String({ description: '`full` (a walk of every user) or `subject` (one, on demand)' }),
  ok: Type.Boolean(),
  seen: Type.Integer(),
  removed: Type.Integer(),
  pages: Type.Integer(),
  error: Type.Optional(TargetErrorSchema),
});

export const IdentitySchema = Type.Object({
  external_id: Type.String(),
  email: Nullable(Type.String()),
  user_name: Nullable(Type.String()),
  display_name: Nullable(Type.String()),
  state: Type.String(),
  last_seen_time: Type.String(),
});

export function identityView(row: TargetIdentityRow): Static<typeof IdentitySchema> {
  return {
    external_id: row.external_id,
    email: row.email,
    user_name: row.user_name,
    display_name: row.display_name,
    state: row.state,
    last_seen_time: row.last_seen_at.toISOString(),
  };
}
