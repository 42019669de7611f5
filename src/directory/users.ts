import type { Transaction } from 'kysely';
import type { AuditTarget } from '../audit/actions.js';
import type { AuditEntryInput, CallContext } from '../audit/entry.js';
import { AppError } from '../errors.js';
import { isUniqueViolation } from '../store/errors.js';
import { newId } from '../ids.js';
import type { Database, User } from '../storage/schema.js';
import { findAccountById } from '../store/accounts.js';
import { findGroupsByName, insertGroups, insertMemberships } from '../store/groups.js';
import { findTakenEmails, findUserById, insertUsers, type NewUserRow } from '../store/users.js';
import type { DirectoryDeps } from './deps.js';
import { assertNewUser, type NewUserInput } from './validate.js';

export async function getUser(deps: DirectoryDeps, accountId: string, userId: string): Promise<User> {
  const user = await findUserById(deps.db, accountId, userId);
  if (!user) throw new AppError('USER_NOT_FOUND', { metadata: { user_id: userId } });
  return user;
}

export async function assertAccountExists(deps: Pick<DirectoryDeps, 'db'>, accountId: string): Promise<void> {
  if (!(await findAccountById(deps.db, accountId))) {
    throw new AppError('ACCOUNT_NOT_FOUND', { metadata: { account_id: accountId } });
  }
}

/**
 * Inserts validated users (and any groups they name that do not exist yet) inside `trx`, with one audit
 * entry per user, group and membership. Shared by createUser, the bulk import and the demo seed.
 * Callers check emails for duplicates first; a duplicate that slips through fails the whole transaction.
 */
export async function insertUsersWithGroups(
  deps: DirectoryDeps,
  trx: Transaction<Database>,
  ctx: CallContext,
  accountId: string,
  inputs: NewUserInput[],
): Promise<User[]> {
  const rows: NewUserRow[] = inputs.map((input) => ({
    account_id: accountId,
    id: newId(),
    email: input.email.trim(),
    display_name: input.display_name.trim(),
    role: input.role ?? 'MEMBER',
    externally_managed: input.externally_managed ?? false,
  }));
  const users = await insertUsers(trx, rows);
  const target = (type: AuditTarget, id: string) => ({ type, id });
  const entries: AuditEntryInput[] = users.map((u) => ({
    accountId,
    ctx,
    action: 'user.create',
    target: target('user', u.id),
    outcome: 'changed',
    details: { email: u.email, display_name: u.display_name, role: u.role, externally_managed: u.externally_managed },
  }));

  const wanted = new Map<string, string>(); // lower-case name → name as first written
  for (const input of inputs)
    for (const g of input.groups ?? [])
      if (!wanted.has(g.trim().toLowerCase())) wanted.set(g.trim().toLowerCase(), g.trim());
  if (wanted.size > 0) {
    const groupIds = new Map<string, string>();
    for (const g of await findGroupsByName(trx, accountId, [...wanted.keys()]))
      groupIds.set(g.name.toLowerCase(), g.id);
    const missing = [...wanted].filter(([key]) => !groupIds.has(key));
    if (missing.length > 0) {
      const created = await insertGroups(
        trx,
        missing.map(([, name]) => ({ account_id: accountId, id: newId(), name })),
      );
      for (const g of created) {
        groupIds.set(g.name.toLowerCase(), g.id);
        entries.push({
          accountId,
          ctx,
          action: 'group.create',
          target: target('group', g.id),
          outcome: 'changed',
          details: { name: g.name },
        });
      }
    }
    // By the ids generated here, index-aligned with the inputs (RETURNING promises no order).
    const memberships = rows.flatMap((row, i) =>
      [...new Set((inputs[i]!.groups ?? []).map((g) => g.trim().toLowerCase()))].map((key) => ({
        account_id: accountId,
        group_id: groupIds.get(key)!,
        user_id: row.id,
      })),
    );
    for (const m of await insertMemberships(trx, memberships)) {
      entries.push({
        accountId,
        ctx,
        action: 'membership.add',
        target: target('user', m.user_id),
        outcome: 'changed',
        details: { group_id: m.group_id },
      });
    }
  }
  await deps.audit.append(trx, entries);
  return users;
}

export async function createUser(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  input: NewUserInput,
): Promise<User> {
  assertNewUser(input);
  return deps.audit
    .transact(async (trx) => {
      await assertAccountExists({ db: trx }, accountId);
      if ((await findTakenEmails(trx, accountId, [input.email.trim().toLowerCase()])).size > 0) {
        throw new AppError('EMAIL_TAKEN');
      }
      const [user] = await insertUsersWithGroups(deps, trx, ctx, accountId, [input]);
      return user!;
    })
    .catch(rethrowEmailTaken);
}

/** A concurrent create with the same email wins the race on the unique index: say so plainly. */
export function rethrowEmailTaken(error: unknown): never {
  if (isUniqueViolation(error, 'users_email_key')) {
    throw new AppError('EMAIL_TAKEN', {
      description: 'a user with this email was created meanwhile; nothing was written',
      cause: error,
    });
  }
  throw error;
}
