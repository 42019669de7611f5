/**
 * Who a non-human subject is, for people (the console): the app's or source's name and state, an app's
 * maker (oauth_apps.created_by), a session's person; and the open records of the apps a person made,
 * which their console shows them.
 */
import { sql } from 'kysely';
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

/** The subject's owner as it is now, in one statement. */
export async function readNhiOwner(db: Executor, accountId: string, subject: NhiSubject): Promise<NhiOwner> {
  const { rows } = await sql<NhiOwner>`
    SELECT coalesce(a.name, s.name) AS name, a.client_id, coalesce(a.disabled_at, s.disabled_at) AS disabled_at,
           CASE WHEN m.id IS NULL THEN NULL
             ELSE json_build_object('id', m.id, 'email', m.email, 'display_name', m.display_name) END AS maker,
           CASE WHEN u.id IS NULL THEN NULL
             ELSE json_build_object('id', u.id, 'email', u.email, 'display_name', u.display_name) END AS "user"
    FROM (SELECT ${accountId}::text AS account_id) k
    LEFT JOIN oauth_apps a ON a.account_id = k.account_id AND ${subject.type} = 'app' AND a.id = ${subject.id}
    LEFT JOIN users m ON m.account_id = a.account_id AND m.id = a.created_by
    LEFT JOIN signal_sources s ON s.account_id = k.account_id AND ${subject.type} = 'source' AND s.id = ${subject.id}
    LEFT JOIN users u ON u.account_id = k.account_id AND u.id = ${subject.user_id ?? null}::text`.execute(db);
  return rows[0]!;
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
