import { sql, type RawBuilder } from 'kysely';
import type { AuditOutcome, AuditRecord } from '../storage/schema.js';
import type { Executor } from './executor.js';

export interface AuditEntryValues {
  account_id: string;
  actor_type: string;
  actor_id: string;
  action: string;
  target_type: string;
  target_id: string;
  cause: string;
  authz: string;
  outcome: AuditOutcome;
  details: string;
}

/**
 * Into the inbox, in one statement whatever the number of rows (so atomic on its own: a group commit
 * needs no transaction). The rows go as one array per column: the statement text never changes, so it
 * is prepared once per connection, where a multi-row VALUES would be parsed and planned for every size.
 */
export async function insertAuditEntries(db: Executor, rows: AuditEntryValues[]): Promise<void> {
  if (rows.length === 0) return;
  await insertEntriesSql(rows).execute(db);
}

/** The inbox insert as a statement to run or to embed in a larger one; `when` gates it (default: always). */
export function insertEntriesSql(rows: AuditEntryValues[], when = sql`true`) {
  const column = <K extends keyof AuditEntryValues>(key: K) => rows.map((row) => row[key]);
  return sql`
    INSERT INTO audit_inbox (account_id, actor_type, actor_id, action, target_type, target_id, cause, authz, outcome,
      details)
    SELECT * FROM unnest(${column('account_id')}::text[], ${column('actor_type')}::text[],
      ${column('actor_id')}::text[],
                         ${column('action')}::text[], ${column('target_type')}::text[], ${column('target_id')}::text[],
                         ${column('cause')}::jsonb[], ${column('authz')}::jsonb[], ${column('outcome')}::text[],
                         ${column('details')}::jsonb[])
    WHERE ${when}`;
}

/** Logs that have committed entries waiting for an index, or numbered entries their tree does not cover yet. */
export async function listLogsWithUnsequenced(db: Executor): Promise<string[]> {
  const { rows } = await sql<{ account_id: string }>`
    SELECT DISTINCT account_id FROM audit_inbox
    UNION
    SELECT account_id FROM audit_logs WHERE tree_size < size`.execute(db);
  return rows.map((r) => r.account_id);
}

/** A numbered entry as it goes into the log's Merkle tree (audit/leaf.ts); `recorded_at` to the microsecond. */
export interface NumberedEntry {
  account_id: string;
  idx: number;
  recorded_at: string;
  actor_type: string;
  actor_id: string;
  action: string;
  target_type: string;
  target_id: string;
  cause: Record<string, unknown>;
  authz: Record<string, unknown>;
  outcome: AuditOutcome;
  details: Record<string, unknown>;
}

/** Timestamps in leaves and exports: UTC, ISO 8601 with microseconds (what PostgreSQL keeps). */
export const ISO_MICROS = sql.raw(`'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'`);

/** The select list of a NumberedEntry, from any relation with audit_entries' columns. */
export const NUMBERED_ENTRY = sql`account_id, idx, to_char(recorded_at AT TIME ZONE 'UTC',
    ${ISO_MICROS}) AS recorded_at, actor_type, actor_id,
           action, target_type, target_id, cause, authz, outcome, details`;

/**
 * Takes the log's row lock (until the transaction ends) and returns its size, creating the head of a
 * log written before its account row (the system log) on first use. One holder at a time numbers a log,
 * across processes.
 */
export async function lockLogHead(trx: Executor, accountId: string): Promise<{ size: number; tree_size: number }> {
  const lockHead = () =>
    trx
      .selectFrom('audit_logs')
      .select(['size', 'tree_size'])
      .where('account_id', '=', accountId)
      .forUpdate()
      .executeTakeFirst();
  let head = await lockHead();
  if (!head) {
    await trx
      .insertInto('audit_logs')
      .values({ account_id: accountId })
      .onConflict((oc) => oc.doNothing())
      .execute();
    head = (await lockHead())!;
  }
  return head;
}

/** Moves a locked log's head: how many entries are numbered, and how many its tree covers. */
export async function setLogHead(
  trx: Executor,
  accountId: string,
  head: { size: number; tree_size: number },
): Promise<void> {
  await trx
    .updateTable('audit_logs')
    .set({ ...head, updated_at: sql<Date>`now()` as unknown as Date })
    .where('account_id', '=', accountId)
    .execute();
}

/** Numbered entries [from, to) of a log, in index order, as leaves are made of them. */
export async function readNumberedEntries(
  db: Executor,
  accountId: string,
  from: number,
  to: number,
): Promise<NumberedEntry[]> {
  const { rows } = await sql<NumberedEntry>`
    SELECT ${NUMBERED_ENTRY}
    FROM audit_entries WHERE account_id = ${accountId} AND idx >= ${from} AND idx < ${to} ORDER BY idx`.execute(db);
  return rows;
}

/**
 * Moves up to `limit` committed inbox entries of a log, whose head the caller holds locked at `size`,
 * into audit_entries, numbered densely from `size` in entry_id order (the caller then moves the head, see
 * setLogHead). Returns the numbered entries in index order.
 */
export async function numberInboxEntries(
  trx: Executor,
  accountId: string,
  size: number,
  limit: number,
): Promise<NumberedEntry[]> {
  // This statement starts after the lock is granted, so it sees everything the previous holder moved.
  const result = await sql<NumberedEntry>`
    WITH batch AS (
      -- A range up to the batch's last entry_id, computed once (an InitPlan): one index range scan
      -- whatever plan a prepared statement settles on. Same snapshot, so exactly the first rows.
      DELETE FROM audit_inbox
      WHERE account_id = ${accountId} AND entry_id <= (
        SELECT max(entry_id) FROM (
          SELECT entry_id FROM audit_inbox WHERE account_id = ${accountId} ORDER BY entry_id LIMIT ${limit}
        ) AS first_rows
      )
      RETURNING *
    ), numbered AS (
      INSERT INTO audit_entries (account_id, idx, entry_id, recorded_at, actor_type, actor_id, action,
                                 target_type, target_id, cause, authz, outcome, details)
      SELECT account_id, ${size} + row_number() OVER (ORDER BY entry_id) - 1, entry_id, recorded_at,
             actor_type, actor_id, action, target_type, target_id, cause, authz, outcome, details
      FROM batch
      RETURNING *
    )
    SELECT ${NUMBERED_ENTRY}
    FROM numbered ORDER BY idx`.execute(trx);
  return result.rows;
}

export interface AuditQuery {
  accountId: string;
  targetType?: string;
  targetId?: string;
  /** Include entries still in the inbox (they come after every numbered one, idx null). */
  includeUnsequenced?: boolean;
  limit?: number;
}

/** What an entry says: who, what, to whom, why, under which authorization, how it went. */
const BODY_COLUMNS = [
  'actor_type',
  'actor_id',
  'action',
  'target_type',
  'target_id',
  'cause',
  'authz',
  'outcome',
  'details',
] as const;

const ENTRY_COLUMNS = ['account_id', 'entry_id', 'recorded_at', ...BODY_COLUMNS] as const;

/**
 * Entries of one log in index order. With `includeUnsequenced`, the inbox is read in the same statement
 * (one snapshot), so an entry the sequencer moves meanwhile is seen exactly once.
 */
export async function listAuditEntries(db: Executor, q: AuditQuery): Promise<AuditRecord[]> {
  let numbered = db
    .selectFrom('audit_entries')
    .select([...ENTRY_COLUMNS, sql<number | null>`idx`.as('idx'), sql<Date | null>`sequenced_at`.as('sequenced_at')])
    .where('account_id', '=', q.accountId);
  if (q.targetType) numbered = numbered.where('target_type', '=', q.targetType);
  if (q.targetId) numbered = numbered.where('target_id', '=', q.targetId);
  if (!q.includeUnsequenced) {
    const ordered = numbered.orderBy('idx');
    return (q.limit ? ordered.limit(q.limit) : ordered).execute();
  }
  let waiting = db
    .selectFrom('audit_inbox')
    .select([
      ...ENTRY_COLUMNS,
      sql<number | null>`NULL::bigint`.as('idx'),
      sql<Date | null>`NULL::timestamptz`.as('sequenced_at'),
    ])
    .where('account_id', '=', q.accountId);
  if (q.targetType) waiting = waiting.where('target_type', '=', q.targetType);
  if (q.targetId) waiting = waiting.where('target_id', '=', q.targetId);
  const all = numbered
    .unionAll(waiting)
    .orderBy(sql`idx NULLS LAST`)
    .orderBy('entry_id');
  return (q.limit ? all.limit(q.limit) : all).execute();
}

export async function getLogSize(db: Executor, accountId: string): Promise<number> {
  const row = await db.selectFrom('audit_logs').select('size').where('account_id', '=', accountId).executeTakeFirst();
  return row?.size ?? 0;
}

export interface EntrySearch {
  /** The first index to consider (paging resumes here). */
  fromIndex: number;
  limit: number;
  startTime?: Date | undefined;
  endTime?: Date | undefined;
  action?: string | undefined;
  actorId?: string | undefined;
  /** Entries whose target is this user. */
  targetUserId?: string | undefined;
}

/** Numbered entries of one log matching the search, in index order. */
export async function searchEntries(db: Executor, accountId: string, q: EntrySearch): Promise<NumberedEntry[]> {
  let query = db
    .selectFrom('audit_entries')
    .select([
      'account_id',
      'idx',
      sql<string>`to_char(recorded_at AT TIME ZONE 'UTC', ${ISO_MICROS})`.as('recorded_at'),
      ...BODY_COLUMNS,
    ])
    .where('account_id', '=', accountId)
    .where('idx', '>=', q.fromIndex);
  if (q.startTime) query = query.where('recorded_at', '>=', q.startTime);
  if (q.endTime) query = query.where('recorded_at', '<', q.endTime);
  if (q.action) query = query.where('action', '=', q.action);
  if (q.actorId) query = query.where('actor_id', '=', q.actorId);
  if (q.targetUserId) query = query.where('target_type', '=', 'user').where('target_id', '=', q.targetUserId);
  return query.orderBy('idx').limit(q.limit).execute();
}

/** The first numbered entry of the log matching `where` (a condition on audit_entries' columns), in index order. */
export async function findFirstEntry(
  db: Executor,
  accountId: string,
  where: RawBuilder<unknown>,
): Promise<NumberedEntry | undefined> {
  const result =
    await sql<NumberedEntry>`SELECT ${NUMBERED_ENTRY} FROM audit_entries WHERE account_id = ${accountId} AND ${where}
        ORDER BY idx LIMIT 1`.execute(db);
  return result.rows[0];
}
