import { sql } from 'kysely';
import type { UserRole } from '../storage/schema.js';
import type { Executor } from './executor.js';

/** Records a revocation; false when the token was already revoked. */
export async function insertRevocation(
  db: Executor,
  row: { account_id: string; jti: string; client_id: string; expires_at: Date },
): Promise<boolean> {
  const inserted = await db
    .insertInto('revoked_tokens')
    .values(row)
    .onConflict((oc) => oc.doNothing())
    .returning('jti')
    .execute();
  return inserted.length > 0;
}

export interface TokenRef {
  accountId: string;
  jti: string;
  clientId: string;
  /** The key that signed the token. */
  kid: string;
  /** When it was issued (its `iat`, seconds): refused when before the app's tokens_not_before. */
  iat: number;
}

/** Who made an app: their role when they made it, and now (null: deleted). No user: the operator. */
export interface AppMaker {
  user_id: string | null;
  role_then: UserRole | null;
  role_now: UserRole | null;
}

/** What an admin set on an app to bound what it may do to users (enforced in oauth/constraints.ts). */
export interface AppConstraints {
  allowed_group_ids: string[];
  protected_roles: string[];
  max_suspensions_per_hour: number | null;
  /** Who made the app, with their role then and now: the ceiling of what it may do (oauth/maker-ceiling.ts). */
  maker: AppMaker;
}

export interface TokenStandingRow {
  revoked: boolean;
  appActive: boolean;
  /** The signing key exists, is not revoked, and is unretired or retired less than the window ago. */
  keyInForce: boolean;
  /** The app's constraints, read in the same statement (undefined when the app is gone). */
  constraints: AppConstraints | undefined;
}

/**
 * What the resource guard must know about verified tokens, for several at once in one round trip:
 * whether each was revoked, whether its app still exists and is enabled, whether the key that signed it
 * is still in force (not revoked; unretired, or retired less than `keyWindowSeconds` ago), and the app's
 * constraints. Answers in input order.
 */
export async function tokenStandings(
  db: Executor,
  tokens: TokenRef[],
  keyWindowSeconds: number,
): Promise<TokenStandingRow[]> {
  const { rows } = await sql<
    {
      revoked: boolean;
      app_active: boolean;
      key_in_force: boolean;
      app_id: string | null;
      created_by: string | null;
      created_by_role: UserRole | null;
      maker_role: UserRole | null;
    } & Partial<AppConstraints>
  >`
    SELECT EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.account_id = t.account_id AND r.jti = t.jti)
             -- iat is in whole seconds: a token of the cutoff's own second is refused too.
             OR t.iat < ceil(extract(epoch FROM a.tokens_not_before)) AS revoked,
           a.id IS NOT NULL AND a.disabled_at IS NULL AS app_active,
           EXISTS (SELECT 1 FROM signing_keys k
                   WHERE k.kid = t.kid AND k.revoked_at IS NULL
                     AND (k.retired_at IS NULL
                       OR k.retired_at > now() - make_interval(secs => ${keyWindowSeconds}))) AS key_in_force,
           a.id AS app_id, a.allowed_group_ids, a.protected_roles, a.max_suspensions_per_hour,
           a.created_by, a.created_by_role, m.role AS maker_role
    FROM unnest(${tokens.map((t) => t.accountId)}::text[], ${tokens.map((t) => t.jti)}::text[],
      ${tokens.map((t) => t.clientId)}::text[],
                ${tokens.map((t) => t.kid)}::text[], ${tokens.map((t) => t.iat)}::float8[])
         WITH ORDINALITY AS t(account_id, jti, client_id, kid, iat, n)
    LEFT JOIN oauth_apps a ON a.account_id = t.account_id AND a.client_id = t.client_id
    LEFT JOIN users m ON m.account_id = a.account_id AND m.id = a.created_by
    ORDER BY t.n`.execute(db);
  return rows.map((row) => ({
    revoked: row.revoked,
    appActive: row.app_active,
    keyInForce: row.key_in_force,
    constraints:
      row.app_id === null
        ? undefined
        : {
            allowed_group_ids: row.allowed_group_ids!,
            protected_roles: row.protected_roles!,
            max_suspensions_per_hour: row.max_suspensions_per_hour ?? null,
            maker: { user_id: row.created_by, role_then: row.created_by_role, role_now: row.maker_role },
          },
  }));
}

/** One call in this many also clears expired replay-cache rows, keeping the hot path to one statement. */
const SWEEP_EVERY = 64;
const sweepDue = () => Math.random() < 1 / SWEEP_EVERY;

/** Records a client assertion's jti; false when it was seen before (a replay). */
export async function recordAssertionJti(
  db: Executor,
  row: { account_id: string; client_id: string; jti: string; expires_at: Date },
): Promise<boolean> {
  if (sweepDue())
    await db
      .deleteFrom('client_assertion_jtis')
      .where('expires_at', '<', sql<Date>`now()`)
      .execute();
  const inserted = await db
    .insertInto('client_assertion_jtis')
    .values(row)
    .onConflict((oc) => oc.doNothing())
    .returning('jti')
    .execute();
  return inserted.length > 0;
}

/** Records a DPoP proof's jti for its key; false on a replay. */
export async function recordDpopJti(
  db: Executor,
  row: { jkt: string; jti: string; expires_at: Date },
): Promise<boolean> {
  if (sweepDue())
    await db
      .deleteFrom('dpop_proof_jtis')
      .where('expires_at', '<', sql<Date>`now()`)
      .execute();
  const inserted = await db
    .insertInto('dpop_proof_jtis')
    .values(row)
    .onConflict((oc) => oc.doNothing())
    .returning('jti')
    .execute();
  return inserted.length > 0;
}
