import { sql } from 'kysely';
import type { SignalSourcesTable, SignalsTable } from '../storage/schema.js';
import type { Selectable, Insertable } from 'kysely';
import type { Executor } from './executor.js';

export type SignalSource = Selectable<SignalSourcesTable>;
export type SignalRow = Selectable<SignalsTable>;

export function insertSource(db: Executor, row: Insertable<SignalSourcesTable>): Promise<SignalSource> {
  return db.insertInto('signal_sources').values(row).returningAll().executeTakeFirstOrThrow();
}

export function findSource(db: Executor, accountId: string, id: string): Promise<SignalSource | undefined> {
  return db
    .selectFrom('signal_sources')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export function listSources(db: Executor, accountId: string): Promise<SignalSource[]> {
  return db.selectFrom('signal_sources').selectAll().where('account_id', '=', accountId).orderBy('name').execute();
}

export function disableSource(db: Executor, accountId: string, id: string): Promise<SignalSource | undefined> {
  return db
    .updateTable('signal_sources')
    .set({ disabled_at: sql<Date>`coalesce(disabled_at, now())` as unknown as Date })
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export function findSignalByExternalId(
  db: Executor,
  accountId: string,
  sourceId: string,
  externalId: string,
): Promise<SignalRow | undefined> {
  return db
    .selectFrom('signals')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('source_id', '=', sourceId)
    .where('external_id', '=', externalId)
    .executeTakeFirst();
}

export function findSignal(db: Executor, accountId: string, id: string): Promise<SignalRow | undefined> {
  return db
    .selectFrom('signals')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/** Records a signed request's signature for the replay window; false when it was already seen (a replay). */
export async function claimSignature(
  db: Executor,
  accountId: string,
  sourceId: string,
  signatureHash: string,
  windowSeconds: number,
): Promise<boolean> {
  // Expired claims of this source go first (the index keeps this cheap), so the table holds one window.
  await db
    .deleteFrom('signal_source_replays')
    .where('account_id', '=', accountId)
    .where('source_id', '=', sourceId)
    .where('expires_at', '<', sql<Date>`now()`)
    .execute();
  const row = await db
    .insertInto('signal_source_replays')
    .values({
      account_id: accountId,
      source_id: sourceId,
      signature_hash: signatureHash,
      expires_at: sql<Date>`now() + make_interval(secs => ${windowSeconds * 2})` as unknown as Date,
    })
    .onConflict((oc) => oc.columns(['account_id', 'source_id', 'signature_hash']).doNothing())
    .returning('signature_hash')
    .executeTakeFirst();
  return row !== undefined;
}

export function findSourceByTokenHash(
  db: Executor,
  accountId: string,
  id: string,
  tokenHash: string,
): Promise<SignalSource | undefined> {
  return db
    .selectFrom('signal_sources')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .where('token_hash', '=', tokenHash)
    .executeTakeFirst();
}
