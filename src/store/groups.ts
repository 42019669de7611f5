import { sql } from 'kysely';
import type { Group } from '../storage/schema.js';
import type { Executor } from './executor.js';

export function insertGroups(
  db: Executor,
  rows: Array<{ account_id: string; id: string; name: string }>,
): Promise<Group[]> {
  return db.insertInto('groups').values(rows).returningAll().execute();
}

export function findGroupsByName(db: Executor, accountId: string, names: string[]): Promise<Group[]> {
  if (names.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('groups')
    .selectAll()
    .where('account_id', '=', accountId)
    .where(
      sql<string>`lower(name)`,
      'in',
      names.map((n) => n.toLowerCase()),
    )
    .execute();
}

export function findGroupById(db: Executor, accountId: string, id: string): Promise<Group | undefined> {
  return db
    .selectFrom('groups')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export function listGroups(db: Executor, accountId: string): Promise<Group[]> {
  return db.selectFrom('groups').selectAll().where('account_id', '=', accountId).orderBy('name').execute();
}

/** Adds memberships; returns the ones that were new. */
export async function insertMemberships(
  db: Executor,
  rows: Array<{ account_id: string; group_id: string; user_id: string }>,
): Promise<Array<{ group_id: string; user_id: string }>> {
  const added: Array<{ group_id: string; user_id: string }> = [];
  // 3 parameters a row: 10,000 rows stay under PostgreSQL's 65,535 bind parameters.
  for (let i = 0; i < rows.length; i += 10_000) {
    added.push(
      ...(await db
        .insertInto('group_members')
        .values(rows.slice(i, i + 10_000))
        .onConflict((oc) => oc.doNothing())
        .returning(['group_id', 'user_id'])
        .execute()),
    );
  }
  return added;
}

export async function deleteMembership(
  db: Executor,
  accountId: string,
  groupId: string,
  userId: string,
): Promise<boolean> {
  const result = await db
    .deleteFrom('group_members')
    .where('account_id', '=', accountId)
    .where('group_id', '=', groupId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

export async function listGroupIdsOfUser(db: Executor, accountId: string, userId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('group_members')
    .select('group_id')
    .where('account_id', '=', accountId)
    .where('user_id', '=', userId)
    .orderBy('group_id')
    .execute();
  return rows.map((r) => r.group_id);
}

export async function isMember(db: Executor, accountId: string, groupId: string, userId: string): Promise<boolean> {
  const row = await db
    .selectFrom('group_members')
    .select('user_id')
    .where('account_id', '=', accountId)
    .where('group_id', '=', groupId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return row !== undefined;
}

/** The ids of a group's members, in id order. */
export async function listMemberIds(db: Executor, accountId: string, groupId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('group_members')
    .select('user_id')
    .where('account_id', '=', accountId)
    .where('group_id', '=', groupId)
    .orderBy('user_id')
    .execute();
  return rows.map((r) => r.user_id);
}

/** Deletes a group; its memberships go with it (ON DELETE CASCADE). Returns the group, or undefined. */
export function deleteGroupRow(db: Executor, accountId: string, id: string): Promise<Group | undefined> {
  return db
    .deleteFrom('groups')
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

/** How many of a group's members hold a role above MEMBER. */
export async function countPrivilegedMembers(db: Executor, accountId: string, groupId: string): Promise<number> {
  const row = await db
    .selectFrom('group_members as m')
    .innerJoin('users as u', (join) => join.onRef('u.account_id', '=', 'm.account_id').onRef('u.id', '=', 'm.user_id'))
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('m.account_id', '=', accountId)
    .where('m.group_id', '=', groupId)
    .where('u.role', '<>', 'MEMBER')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The groups of the account with these ids, by name. */
export function findGroupsByIds(db: Executor, accountId: string, ids: readonly string[]): Promise<Group[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom('groups')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', 'in', ids)
    .orderBy('name')
    .execute();
}
