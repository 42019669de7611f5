import type { Executor } from './executor.js';

/** Whom a user id stands for, as tables show a person: `name <email>`. */
export interface Person {
  email: string;
  display_name: string;
}

/**
 * The names of the users among `ids`, in one query: the reads that show people (audit entries, explain,
 * containments) add them to their answer instead of making a caller ask once per id. Ids that are not
 * users of the account (apps, the operator, deleted users) are left out.
 */
export async function findPeople(
  db: Executor,
  accountId: string,
  ids: Iterable<string>,
): Promise<Record<string, Person>> {
  const wanted = [...new Set([...ids].filter((id) => /^[A-Z0-9]{26}$/.test(id)))];
  if (wanted.length === 0) return {};
  const rows = await db
    .selectFrom('users')
    .select(['id', 'email', 'display_name'])
    .where('account_id', '=', accountId)
    .where('id', 'in', wanted)
    .execute();
  return Object.fromEntries(rows.map((r) => [r.id, { email: r.email, display_name: r.display_name }]));
}
