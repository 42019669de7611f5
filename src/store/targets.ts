/**
 * Targets (the systems a containment acts on besides Cordon's directory) and the identities mirrored
 * from them. Every query filters on the account. A removed target keeps its row (removed_at) so that its
 * steps stay explainable; it loses its mirrored identities.
 */
import { sql, type Insertable } from 'kysely';
import type { Selectable } from 'kysely';
import type { IdentityState, TargetIdentitiesTable, TargetsTable } from '../storage/schema.js';
import type { Executor } from './executor.js';

export type TargetRow = Selectable<TargetsTable>;
export type TargetIdentityRow = Selectable<TargetIdentitiesTable>;

const ID = /^[A-Z2-7]{26}$/;

export function insertTarget(db: Executor, row: Insertable<TargetsTable>): Promise<TargetRow> {
  return db.insertInto('targets').values(row).returningAll().executeTakeFirstOrThrow();
}

/** A target that is not removed, by its id or its name; `lock` holds its row until the transaction ends. */
export function findTarget(
  db: Executor,
  accountId: string,
  idOrName: string,
  lock = false,
): Promise<TargetRow | undefined> {
  const query = db
    .selectFrom('targets')
    .selectAll()
    .where('account_id', '=', accountId)
    .where(ID.test(idOrName) ? 'id' : 'name', '=', idOrName)
    .where('removed_at', 'is', null);
  return (lock ? query.forUpdate() : query).executeTakeFirst();
}

/** A target by id, removed or not (a step's target). */
export function findTargetById(db: Executor, accountId: string, id: string): Promise<TargetRow | undefined> {
  return db
    .selectFrom('targets')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export function listTargets(db: Executor, accountId: string): Promise<TargetRow[]> {
  return db
    .selectFrom('targets')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('removed_at', 'is', null)
    .orderBy('name')
    .execute();
}

/** How many identities each of the account's targets mirrors. */
export async function countIdentities(db: Executor, accountId: string): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('target_identities')
    .select(['target_id', sql<string>`count(*)`.as('n')])
    .where('account_id', '=', accountId)
    .groupBy('target_id')
    .execute();
  return new Map(rows.map((r) => [r.target_id, Number(r.n)]));
}

export type TargetChanges = Partial<
  Pick<
    TargetRow,
    | 'enabled'
    | 'max_concurrency'
    | 'max_rate_per_second'
    | 'step_deadline_seconds'
    | 'sync_interval_seconds'
    | 'credentials'
    | 'credentials_rotated_at'
    | 'last_sync_at'
    | 'last_sync_error'
    | 'sync_lease_until'
    | 'sync_failed_at'
    | 'removed_at'
  >
>;

export function updateTarget(db: Executor, accountId: string, id: string, changes: TargetChanges): Promise<TargetRow> {
  return db
    .updateTable('targets')
    .set(changes)
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Marks the target removed (its name is free again) and deletes its mirrored identities. */
export async function removeTarget(db: Executor, accountId: string, id: string): Promise<TargetRow> {
  await db.deleteFrom('target_identities').where('account_id', '=', accountId).where('target_id', '=', id).execute();
  return updateTarget(db, accountId, id, { removed_at: new Date(), enabled: false });
}

export interface IdentityInput {
  external_id: string;
  email: string | null;
  user_name: string | null;
  display_name: string | null;
  state: IdentityState;
}

/** Inserts or refreshes a batch of a target's identities, stamping them seen at `seenAt`. */
export async function upsertIdentities(
  db: Executor,
  accountId: string,
  targetId: string,
  identities: IdentityInput[],
  seenAt: Date = new Date(),
): Promise<void> {
  if (identities.length === 0) return;
  // One row per external id: a target that repeats one in a page would otherwise fail the whole statement.
  const unique = [...new Map(identities.map((i) => [i.external_id, i])).values()];
  await db
    .insertInto('target_identities')
    .values(
      unique.map((i) => ({
        account_id: accountId,
        target_id: targetId,
        external_id: i.external_id,
        email: i.email,
        user_name: i.user_name,
        display_name: i.display_name,
        state: i.state,
        last_seen_at: seenAt,
      })),
    )
    .onConflict((oc) =>
      oc.columns(['account_id', 'target_id', 'external_id']).doUpdateSet((eb) => ({
        email: eb.ref('excluded.email'),
        user_name: eb.ref('excluded.user_name'),
        display_name: eb.ref('excluded.display_name'),
        state: eb.ref('excluded.state'),
        last_seen_at: eb.ref('excluded.last_seen_at'),
      })),
    )
    .execute();
}

/** Deletes the target's identities a complete walk started at `since` did not see; returns how many. */
export async function deleteIdentitiesNotSeenSince(
  db: Executor,
  accountId: string,
  targetId: string,
  since: Date,
): Promise<number> {
  const result = await db
    .deleteFrom('target_identities')
    .where('account_id', '=', accountId)
    .where('target_id', '=', targetId)
    .where('last_seen_at', '<', since)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function deleteIdentity(
  db: Executor,
  accountId: string,
  targetId: string,
  externalId: string,
): Promise<void> {
  await db
    .deleteFrom('target_identities')
    .where('account_id', '=', accountId)
    .where('target_id', '=', targetId)
    .where('external_id', '=', externalId)
    .execute();
}

export interface IdentityHints {
  emails?: string[];
  userNames?: string[];
  externalIds?: string[];
}

/**
 * The mirrored identities any hint names (emails and user names compared case-insensitively), on the
 * targets given (all of the account's when undefined).
 */
export function findIdentitiesByHints(
  db: Executor,
  accountId: string,
  hints: IdentityHints,
  targetIds?: string[],
): Promise<TargetIdentityRow[]> {
  const emails = (hints.emails ?? []).map((e) => e.toLowerCase());
  const userNames = (hints.userNames ?? []).map((u) => u.toLowerCase());
  const externalIds = hints.externalIds ?? [];
  if (emails.length + userNames.length + externalIds.length === 0 || targetIds?.length === 0)
    return Promise.resolve([]);
  let query = db.selectFrom('target_identities').selectAll().where('account_id', '=', accountId);
  if (targetIds) query = query.where('target_id', 'in', targetIds);
  return query
    .where((eb) =>
      eb.or([
        ...(emails.length ? [eb(sql`lower(email)`, 'in', emails)] : []),
        ...(userNames.length ? [eb(sql`lower(user_name)`, 'in', userNames)] : []),
        ...(externalIds.length ? [eb('external_id', 'in', externalIds)] : []),
      ]),
    )
    .orderBy('target_id')
    .orderBy('external_id')
    .execute();
}

/** One page of a target's identities, by external id after `after`, optionally those with `email`. */
export function listIdentities(
  db: Executor,
  accountId: string,
  targetId: string,
  options: { email?: string | undefined; after?: string | undefined; limit: number },
): Promise<TargetIdentityRow[]> {
  let query = db
    .selectFrom('target_identities')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('target_id', '=', targetId);
  if (options.email) query = query.where(sql`lower(email)`, '=', options.email.toLowerCase());
  if (options.after) query = query.where('external_id', '>', options.after);
  return query.orderBy('external_id').limit(options.limit).execute();
}

/**
 * Claims up to `limit` enabled targets (any account) whose sync is due (never synced, or synced longer
 * than their interval ago; after a failed walk, the backoff or the interval, whichever is shorter) and whose
 * lease is free, leasing them for `leaseSeconds`: FOR UPDATE SKIP
 * LOCKED, so two nodes never claim the same target.
 */
export async function claimDueSyncTargets(
  db: Executor,
  limit: number,
  leaseSeconds: number,
  failureBackoffSeconds: number,
): Promise<TargetRow[]> {
  const { rows } = await sql<TargetRow>`
    UPDATE targets t SET sync_lease_until = now() + make_interval(secs => ${leaseSeconds})
    FROM (
      SELECT account_id, id FROM targets
      WHERE removed_at IS NULL AND enabled AND kind <> 'gtr'
        AND (last_sync_at IS NULL OR last_sync_at + make_interval(secs => sync_interval_seconds) <= now())
        AND (sync_lease_until IS NULL OR sync_lease_until <= now())
        AND (sync_failed_at IS NULL
          OR sync_failed_at + make_interval(secs => least(sync_interval_seconds, ${failureBackoffSeconds})) <= now())
      ORDER BY last_sync_at NULLS FIRST
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ) due
    WHERE t.account_id = due.account_id AND t.id = due.id
    RETURNING t.*`.execute(db);
  return rows;
}

/**
 * Takes the sync lease of one target for `leaseSeconds` when it is free (or renews it when `renew`):
 * false when another sync holds it.
 */
export async function leaseTargetSync(
  db: Executor,
  accountId: string,
  id: string,
  leaseSeconds: number,
  renew = false,
): Promise<boolean> {
  let query = db
    .updateTable('targets')
    .set({ sync_lease_until: sql<Date>`now() + make_interval(secs => ${leaseSeconds})` as unknown as Date })
    .where('account_id', '=', accountId)
    .where('id', '=', id);
  if (!renew)
    query = query.where((eb) =>
      eb.or([eb('sync_lease_until', 'is', null), eb('sync_lease_until', '<=', sql<Date>`now()`)]),
    );
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
