import { sql } from 'kysely';
import type { Job } from '../storage/schema.js';
import type { Executor } from './executor.js';

export interface NewJob {
  kind: string;
  accountId?: string | null;
  payload?: Record<string, unknown>;
  runAt?: Date;
  maxAttempts?: number;
}

/** Enqueues a job; pass the caller's transaction so the job commits with the change that needs it. */
export function enqueueJob(db: Executor, job: NewJob): Promise<Job> {
  return db
    .insertInto('jobs')
    .values({
      kind: job.kind,
      account_id: job.accountId ?? null,
      payload: JSON.stringify(job.payload ?? {}),
      ...(job.runAt ? { run_at: job.runAt } : {}),
      ...(job.maxAttempts ? { max_attempts: job.maxAttempts } : {}),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * Claims up to `limit` due jobs of the given kinds for `leaseMs`. Rows another worker is claiming right
 * now are skipped (SKIP LOCKED), and a claimed job stays invisible until its lease runs out, so two
 * workers never hold one job at once; a worker that dies loses its lease and the job runs again.
 */
export function claimJobs(db: Executor, opts: { kinds: string[]; limit: number; leaseMs: number; worker: string }): Promise<Job[]> {
  return db.transaction().execute(async (trx) => {
    const due = await trx
      .selectFrom('jobs')
      .select('id')
      .where('done_at', 'is', null)
      .where('kind', 'in', opts.kinds)
      .where('run_at', '<=', sql<Date>`now()`)
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', sql<Date>`now()`)]))
      .orderBy('run_at')
      .orderBy('id')
      .limit(opts.limit)
      .forUpdate()
      .skipLocked()
      .execute();
    if (due.length === 0) return [];
    return trx
      .updateTable('jobs')
      .set({
        locked_until: sql<Date>`now() + make_interval(secs => ${opts.leaseMs / 1000})` as unknown as Date,
        locked_by: opts.worker,
        attempts: sql<number>`attempts + 1` as unknown as number,
      })
      .where('id', 'in', due.map((d) => d.id))
      .returningAll()
      .execute();
  });
}

export async function completeJob(db: Executor, id: number, worker: string): Promise<boolean> {
  const result = await db
    .updateTable('jobs')
    .set({ done_at: sql<Date>`now()` as unknown as Date, locked_until: null })
    .where('id', '=', id)
    .where('locked_by', '=', worker)
    .where('done_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Records a failure: retried after `retryInMs`, or finished as failed once attempts are used up. */
export async function failJob(db: Executor, id: number, worker: string, error: string, retryInMs: number): Promise<void> {
  await db
    .updateTable('jobs')
    .set({
      last_error: error.slice(0, 2000),
      locked_until: null,
      run_at: sql<Date>`now() + make_interval(secs => ${retryInMs / 1000})` as unknown as Date,
      done_at: sql<Date | null>`CASE WHEN attempts >= max_attempts THEN now() END` as unknown as Date,
    })
    .where('id', '=', id)
    .where('locked_by', '=', worker)
    .execute();
}
