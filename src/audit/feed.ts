/**
 * The SIEM feed: audit entries in the shape of the 1Password Events API's audit events (so existing
 * collectors work with a base-URL change), or as OCSF events. Paging follows that API: a reset cursor
 * `{limit, start_time, end_time}` or a continuing `{cursor}`; answers `{cursor, has_more, items}`.
 */
import { createHash } from 'node:crypto';
import { AppError } from '../errors.js';
import { OcsfClasses, ocsfMappingOf, onePasswordActionOf } from './actions.js';
import { searchEntries, type NumberedEntry } from '../store/audit.js';
import type { Executor } from '../store/executor.js';
import { findPeople, type Person } from '../store/people.js';

/** The people a page's entries name (actors and user targets), by id: their feed items carry name and email. */
export type People = Readonly<Record<string, Person>>;

export interface FeedRequest {
  /** Only entries of this action (the sign-in attempts feed). */
  action?: string | undefined;
  cursor?: string | undefined;
  limit?: number | undefined;
  start_time?: string | undefined;
  end_time?: string | undefined;
}

interface CursorState {
  /** The next index to read. */
  next: number;
  limit: number;
  start: string;
  end: string | undefined;
}

const encode = (state: CursorState) => Buffer.from(JSON.stringify(state)).toString('base64url');

function decode(cursor: string): CursorState {
  try {
    const state = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as CursorState;
    if (
      Number.isSafeInteger(state.next) &&
      state.next >= 0 &&
      Number.isInteger(state.limit) &&
      state.limit >= 1 &&
      state.limit <= 1000 &&
      !Number.isNaN(Date.parse(state.start))
    )
      return state;
  } catch {
    // refused below
  }
  throw new AppError('INVALID_ARGUMENT', { description: 'cursor is not one this server issued' });
}

/**
 * One page of a log's entries, as `render` shapes them. The account comes from the caller's credential, never the
 * cursor.
 */
export async function readFeed<T>(
  db: Executor,
  logId: string,
  request: FeedRequest,
  render: (entry: NumberedEntry, people: People) => T,
): Promise<{ cursor: string; has_more: boolean; items: T[] }> {
  let state: CursorState;
  if (request.cursor !== undefined) {
    state = decode(request.cursor);
  } else {
    const end = request.end_time;
    // As the Events API: start_time defaults to an hour before end_time (or now).
    const start = request.start_time ?? new Date((end ? Date.parse(end) : Date.now()) - 3_600_000).toISOString();
    state = { next: 0, limit: request.limit ?? 100, start, end };
  }
  const rows = await searchEntries(db, logId, {
    fromIndex: state.next,
    limit: state.limit + 1,
    startTime: new Date(state.start),
    endTime: state.end ? new Date(state.end) : undefined,
    action: request.action,
  });
  const items = rows.slice(0, state.limit);
  const next = items.length > 0 ? items.at(-1)!.idx + 1 : state.next;
  const people = await findPeople(db, logId, peopleNamedBy(items));
  return {
    cursor: encode({ ...state, next }),
    has_more: rows.length > state.limit,
    items: items.map((entry) => render(entry, people)),
  };
}

/** The ids of the people entries name: user actors, and user targets. */
function peopleNamedBy(entries: readonly NumberedEntry[]): string[] {
  const ids = new Set<string>();
  for (const entry of entries) {
    if (entry.actor_type === 'user') ids.add(entry.actor_id);
    if (entry.target_type === 'user') ids.add(entry.target_id);
  }
  return [...ids];
}

/** An Events API user object (`{uuid, name, email}`): what Cordon knows of a person, and nothing empty. */
export function eventUser(id: string, people: People): { uuid: string; name?: string; email?: string } {
  const person = Object.hasOwn(people, id) ? people[id] : undefined;
  return { uuid: id, ...(person ? { name: person.display_name, email: person.email } : {}) };
}

/** A stable UUID for an entry (its log and index), so collectors can deduplicate. */
export function entryUuid(entry: NumberedEntry): string {
  const hex = createHash('sha256').update(`${entry.account_id}/${entry.idx}`).digest('hex');
  return (
    `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-` +
    `${((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`
  );
}

export const text = (value: unknown) => (typeof value === 'string' ? value : '');

/**
 * The event's `session`: the caller's session or token id, and the address Cordon recorded for the call.
 * A field Cordon does not know is left out, never sent as "" (1Password's collector decodes
 * `login_time` as a time, and an empty string fails it).
 */
function sessionOf(entry: NumberedEntry): { uuid?: string; ip?: string } {
  const uuid = text(entry.authz.session_id) || text(entry.authz.jti);
  const ip = text(entry.authz.address) || text(entry.details.source_address);
  return { ...(uuid ? { uuid } : {}), ...(ip ? { ip } : {}) };
}

/**
 * The 1Password Events API v2 audit event shape. The action is 1Password's where its vocabulary has an
 * equivalent (audit/actions.ts); Cordon's own name, and what has no counterpart, go under `cordon`.
 */
export function toOnePasswordEvent(entry: NumberedEntry, people: People = {}) {
  const user = (id: string) => eventUser(id, people);
  return {
    uuid: entryUuid(entry),
    timestamp: entry.recorded_at,
    actor_uuid: entry.actor_id,
    actor_details:
      entry.actor_type === 'user'
        ? user(entry.actor_id)
        : { uuid: entry.actor_id, name: `${entry.actor_type}:${entry.actor_id}` },
    actor_account_uuid: entry.account_id,
    account_uuid: entry.account_id,
    action: onePasswordActionOf(entry.action),
    object_type: entry.target_type,
    object_uuid: entry.target_id,
    ...(entry.target_type === 'user' ? { object_details: user(entry.target_id) } : {}),
    aux_info: entry.outcome,
    session: sessionOf(entry),
    cordon: {
      action: entry.action,
      index: entry.idx,
      outcome: entry.outcome,
      cause: entry.cause,
      authz: entry.authz,
      details: entry.details,
    },
  };
}

/** OCSF 1.x: the class and activity come from the action's registry entry (audit/actions.ts). */
export function toOcsfEvent(entry: NumberedEntry) {
  const { class: ocsfClass, activity_id, activity_name } = ocsfMappingOf(entry.action);
  const { class_uid, class_name, category_uid, category_name } = OcsfClasses[ocsfClass];
  const refused = entry.outcome === 'refused';
  const session = sessionOf(entry);
  return {
    class_uid,
    class_name,
    category_uid,
    category_name,
    activity_id,
    activity_name,
    type_uid: class_uid * 100 + activity_id,
    time: Date.parse(entry.recorded_at),
    severity_id: 1,
    status_id: refused ? 2 : 1,
    status: refused ? 'Failure' : 'Success',
    message: `${entry.action} ${entry.target_type}:${entry.target_id} (${entry.outcome})`,
    actor:
      entry.actor_type === 'app'
        ? { app_name: entry.actor_id }
        : { user: { uid: entry.actor_id, type: entry.actor_type } },
    ...(entry.target_type === 'user' ? { user: { uid: entry.target_id } } : {}),
    ...(session.ip ? { src_endpoint: { ip: session.ip } } : {}),
    metadata: {
      uid: entryUuid(entry),
      version: '1.3.0',
      product: { name: 'Cordon', vendor_name: 'Cordon' },
      log_name: entry.account_id,
      sequence: entry.idx,
    },
    unmapped: {
      action: entry.action,
      outcome: entry.outcome,
      cause: entry.cause,
      authz: entry.authz,
      details: entry.details,
    },
  };
}
