import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import type { PlaybooksTable, ProtectionPoliciesTable } from '../storage/schema.js';
import type { Executor } from './executor.js';

export type PlaybookRow = Selectable<PlaybooksTable>;
export type PolicyRow = Selectable<ProtectionPoliciesTable>;

/** The newest version of every playbook of the account. */
export function latestPlaybooks(db: Executor, accountId: string): Promise<PlaybookRow[]> {
  return db
    .selectFrom('playbooks')
    .selectAll()
    .distinctOn('name')
    .where('account_id', '=', accountId)
    .orderBy('name')
    .orderBy('version', 'desc')
    .execute();
}

export function playbookHistory(db: Executor, accountId: string, name: string): Promise<PlaybookRow[]> {
  return db
    .selectFrom('playbooks')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('name', '=', name)
    .orderBy('version', 'desc')
    .execute();
}

/**
 * Serialises applies of one playbook (or of the policy) in an account for the rest of the transaction,
 * so that two applies cannot both take the same next version.
 */
export async function lockDocumentName(db: Executor, accountId: string, name: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`${accountId}/${name}`}, 0))`.execute(db);
}

export function insertPlaybookVersion(
  db: Executor,
  row: {
    account_id: string;
    name: string;
    version: number;
    content_hash: string;
    document: string;
    created_by: string;
  },
): Promise<PlaybookRow> {
  return db.insertInto('playbooks').values(row).returningAll().executeTakeFirstOrThrow();
}

export function latestPolicy(db: Executor, accountId: string): Promise<PolicyRow | undefined> {
  return db
    .selectFrom('protection_policies')
    .selectAll()
    .where('account_id', '=', accountId)
    .orderBy('version', 'desc')
    .limit(1)
    .executeTakeFirst();
}

export function policyHistory(db: Executor, accountId: string): Promise<PolicyRow[]> {
  return db
    .selectFrom('protection_policies')
    .selectAll()
    .where('account_id', '=', accountId)
    .orderBy('version', 'desc')
    .execute();
}

export function insertPolicyVersion(
  db: Executor,
  row: { account_id: string; version: number; content_hash: string; document: string; created_by: string },
): Promise<PolicyRow> {
  return db.insertInto('protection_policies').values(row).returningAll().executeTakeFirstOrThrow();
}

/** One version of a playbook: its content hash and document (a plan names the version it ran under). */
export function findPlaybookVersion(
  db: Executor,
  accountId: string,
  name: string,
  version: number,
): Promise<Pick<PlaybookRow, 'content_hash' | 'document'> | undefined> {
  return db
    .selectFrom('playbooks')
    .select(['content_hash', 'document'])
    .where('account_id', '=', accountId)
    .where('name', '=', name)
    .where('version', '=', version)
    .executeTakeFirst();
}

/**
 * A playbook's newest version (if any) and the policy's newest version, in one read: what a pending plan's digest is
 * recomputed from.
 */
export async function readDigestInputs(
  db: Executor,
  accountId: string,
  playbookName: string | null,
): Promise<{ playbook: PlaybookRow | null; policy: Pick<PolicyRow, 'version' | 'document'> | null }> {
  const result = await sql<{ playbook: PlaybookRow | null; policy: Pick<PolicyRow, 'version' | 'document'> | null }>`
    SELECT (SELECT row_to_json(p) FROM (SELECT * FROM playbooks WHERE account_id = ${accountId}
      AND name = ${playbookName} ORDER BY version DESC LIMIT 1) p) AS playbook,
           (SELECT row_to_json(q) FROM (SELECT version, document FROM protection_policies
             WHERE account_id = ${accountId} ORDER BY version DESC LIMIT 1) q) AS policy`.execute(db);
  return result.rows[0]!;
}
