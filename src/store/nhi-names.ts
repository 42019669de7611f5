/**
 * Who a non-human subject is, for people (the console, explain, webhook messages): the app's or source's
 * name and state, an app's maker (oauth_apps.created_by), a session's person, from one set of joins
 * (NHI_NAMES, nhiJoins); and the open records of the apps a person made, which their console shows them.
 */
import { sql, type RawBuilder } from 'kysely';
import type { NhiSubject } from '../storage/schema.js';
import type { Executor } from './executor.js';

export interface NamedPerson {
  id: string;
  email: string;
  display_name: string;
}

export interface NhiOwner {
  /** The app's or source's name (null: it no longer exists, or a session). */
  name: string | null;
  client_id: string | null;
  disabled_at: Date | null;
  /** An app's maker (null: the operator made it, or they were deleted). */
  maker: NamedPerson | null;
  /** A session's person. */
  user: NamedPerson | null;
}

/** The names of a non-human subject: the app's or source's, its maker, a session's person. */
export const NHI_NAMES = sql`
  coalesce(na.name, ns.name) AS nhi_name, na.created_by AS maker_id, m.email AS maker_email,
  m.display_name AS maker_name, su.id AS session_user_id, su.email AS session_email,
  su.display_name AS session_display_name`;

/** The joins of NHI_NAMES, for the subject (jsonb: {type, id, user_id?}) of the account. */
export function nhiJoins(accountId: RawBuilder<unknown>, subject: RawBuilder<unknown>) {
  return sql`
    LEFT JOIN oauth_apps na ON na.account_id = ${accountId} AND ${subject}->>'type' = 'app'
      AND na.id = ${subject}->>'id'
    LEFT JOIN users m ON m.account_id = na.account_id AND m.id = na.created_by
    LEFT JOIN signal_sources ns ON ns.account_id = ${accountId} AND ${subject}->>'type' = 'source'
      AND ns.id = ${subject}->>'id'
    LEFT JOIN users su ON su.account_id = ${accountId} AND su.id = ${subject}->>'user_id'`;
}

/** The subject's owner as it is now, in one statement. */
export async function readNhiOwner(db: Executor, accountId: string, subject: NhiSubject): Promise<NhiOwner> {
  const { rows } = await sql<{
    nhi_name: string | null;
    client_id: string | null;
    disabled_at: Date | null;
    maker_id: string | null;
    maker_email: string | null;
    maker_name: string | null;
    session_user_id: string | null;
    session_email: string | null;
    session_display_name: string | null;
  }>`
    SELECT ${NHI_NAMES}, na.client_id, coalesce(na.disabled_at, ns.disabled_at) AS disabled_at
    FROM (SELECT ${accountId}::text AS account_id, ${JSON.stringify(subject)}::jsonb AS subject) k
    ${nhiJoins(sql`k.account_id`, sql`k.subject`)}`.execute(db);
  const row = rows[0]!;
  const person = (id: string | null, email: string | null, name: string | null) =>
    id === null ? null : { id, email: email!, display_name: name! };
  return {
    name: row.nhi_name,
    client_id: row.client_id,
    disabled_at: row.disabled_at,
    // A maker deleted since is no one to name.
    maker: person(row.maker_email === null ? null : row.maker_id, row.maker_email, row.maker_name),
    user: person(row.session_user_id, row.session_email, row.session_display_name),
  };
}

export interface MadeAppContainment {
  id: string;
  app_id: string;
  app_name: string;
  action: string | null;
  opened_at: Date;
  new_secret_waiting: boolean;
}

/** The open records of leaked secrets of apps `userId` made, newest first. */
export async function listOpenContainmentsOfMaker(
  db: Executor,
  accountId: string,
  userId: string,
  limit: number,
): Promise<MadeAppContainment[]> {
  const { rows } = await sql<MadeAppContainment>`
    SELECT c.id, a.id AS app_id, a.name AS app_name, c.action, c.opened_at,
           c.secret_enc IS NOT NULL AS new_secret_waiting
    FROM containments c
    JOIN oauth_apps a ON a.account_id = c.account_id AND a.id = c.subject_nhi->>'id'
    WHERE c.account_id = ${accountId} AND c.status = 'open' AND c.subject_nhi->>'type' = 'app'
      AND a.created_by = ${userId}
    ORDER BY c.opened_at DESC, c.id DESC
    LIMIT ${limit}`.execute(db);
  return rows;
}
