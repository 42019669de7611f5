import { sql } from 'kysely';
import type { Executor } from './executor.js';

/** Records a revocation; false when the token was already revoked. */
export async function insertRevocation(db: Executor, row: { account_id: string; jti: string; client_id: string; expires_at: Date }): Promise<boolean> {
  const inserted = await db.insertInto('revoked_tokens').values(row).onConflict((oc) => oc.doNothing()).returning('jti').execute();
  return inserted.length > 0;
}

/**
 * What the resource guard must know about a verified token, in one round trip: whether it was revoked,
 * and whether its app still exists and is enabled.
 */
export async function tokenStanding(db: Executor, accountId: string, jti: string, clientId: string): Promise<{ revoked: boolean; appActive: boolean }> {
  const { rows } = await sql<{ revoked: boolean; app_active: boolean }>`
    SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE account_id = ${accountId} AND jti = ${jti}) AS revoked,
           EXISTS (SELECT 1 FROM oauth_apps WHERE account_id = ${accountId} AND client_id = ${clientId} AND disabled_at IS NULL) AS app_active`.execute(db);
  return { revoked: rows[0]!.revoked, appActive: rows[0]!.app_active };
}

/** One call in this many also clears expired replay-cache rows, keeping the hot path to one statement. */
const SWEEP_EVERY = 64;
const sweepDue = () => Math.random() < 1 / SWEEP_EVERY;

/** Records a client assertion's jti; false when it was seen before (a replay). */
export async function recordAssertionJti(db: Executor, row: { account_id: string; client_id: string; jti: string; expires_at: Date }): Promise<boolean> {
  if (sweepDue()) await db.deleteFrom('client_assertion_jtis').where('expires_at', '<', sql<Date>`now()`).execute();
  const inserted = await db.insertInto('client_assertion_jtis').values(row).onConflict((oc) => oc.doNothing()).returning('jti').execute();
  return inserted.length > 0;
}

/** Records a DPoP proof's jti for its key; false on a replay. */
export async function recordDpopJti(db: Executor, row: { jkt: string; jti: string; expires_at: Date }): Promise<boolean> {
  if (sweepDue()) await db.deleteFrom('dpop_proof_jtis').where('expires_at', '<', sql<Date>`now()`).execute();
  const inserted = await db.insertInto('dpop_proof_jtis').values(row).onConflict((oc) => oc.doNothing()).returning('jti').execute();
  return inserted.length > 0;
}
