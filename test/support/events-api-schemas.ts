/**
 * Strict JSON Schemas of the Events API's answers, as 1Password's Events API reference (1.4.x) defines
 * them: every field that is there must hold its type (a UUID field a non-empty string, a time RFC 3339,
 * `aux_id` an integer), nothing typed may be an empty string, and the required fields are required. A Go
 * collector decoding into time.Time, or a Python one calling datetime.fromisoformat, fails on less.
 * Unknown fields (Cordon's `cordon` object) are allowed, as the collectors ignore them.
 */
const id = { type: 'string', minLength: 1 } as const;
const time = { type: 'string', format: 'date-time' } as const;
const text = { type: 'string', minLength: 1 } as const;
const uuid = { type: 'string', format: 'uuid' } as const;

const object = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  properties,
  required,
  additionalProperties: true,
});

const EVENT_USER = object({ uuid: id, name: text, email: { type: 'string', format: 'email' } });
const LOCATION = object({
  country: text,
  region: text,
  city: text,
  latitude: { type: 'number' },
  longitude: { type: 'number' },
});
const CLIENT = object({
  app_name: text,
  app_version: text,
  platform_name: text,
  platform_version: text,
  os_name: text,
  os_version: text,
  ip_address: { type: 'string', anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] },
});

export const AUDIT_EVENT = object(
  {
    uuid,
    timestamp: time,
    actor_uuid: id,
    actor_details: EVENT_USER,
    actor_account_uuid: id,
    account_uuid: id,
    action: text,
    object_type: text,
    object_uuid: id,
    object_details: EVENT_USER,
    aux_id: { type: 'integer' },
    aux_uuid: id,
    aux_details: EVENT_USER,
    aux_info: text,
    session: object({
      uuid: id,
      login_time: time,
      device_uuid: id,
      ip: { type: 'string', anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] },
    }),
    location: LOCATION,
  },
  ['uuid', 'timestamp', 'actor_uuid', 'action', 'object_type'],
);

export const SIGN_IN_ATTEMPT = object(
  {
    uuid,
    session_uuid: id,
    timestamp: time,
    category: text,
    type: text,
    country: text,
    details: object({ value: text }, ['value']),
    target_user: EVENT_USER,
    client: CLIENT,
    location: LOCATION,
    account_uuid: id,
  },
  ['uuid', 'timestamp', 'category', 'type', 'target_user', 'client'],
);

export const ITEM_USAGE = object(
  {
    uuid,
    timestamp: time,
    used_version: { type: 'integer' },
    vault_uuid: id,
    item_uuid: id,
    action: text,
    user: EVENT_USER,
    client: CLIENT,
    location: LOCATION,
    account_uuid: id,
  },
  ['uuid', 'timestamp', 'vault_uuid', 'item_uuid', 'user', 'client'],
);

/** A page: `{cursor, has_more, items}`, all three required. */
export const PAGE = (item: unknown) => ({
  type: 'object',
  properties: { cursor: text, has_more: { type: 'boolean' }, items: { type: 'array', items: item } },
  required: ['cursor', 'has_more', 'items'],
  additionalProperties: false,
});

export const INTROSPECTION_V2 = {
  type: 'object',
  properties: {
    uuid: id,
    issued_at: time,
    features: { type: 'array', items: { enum: ['auditevents', 'signinattempts', 'itemusages'] }, minItems: 1 },
    account_uuid: id,
  },
  required: ['uuid', 'issued_at', 'features', 'account_uuid'],
  additionalProperties: false,
};
