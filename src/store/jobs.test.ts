import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { describeBackends, useFreshCore } from '../../test/support/backends.js';
import { claimJobs, completeJob, enqueueJob, failJob } from './jobs.js';

describeBackends('jobs', (backend) => {
  const t = useFreshCore(backend);

  const claim = (worker: string, limit = 2, leaseMs = 60_000) => claimJobs(t.core.database.db, { kinds: ['restore'], limit, leaseMs, worker });

  it('concurrent claimers get disjoint jobs, and a claimed job is not handed out again', async () => {
    for (let i = 0; i < 4; i++) await enqueueJob(t.core.database.db, { kind: 'restore', payload: { i } });
    await enqueueJob(t.core.database.db, { kind: 'other' });
    await enqueueJob(t.core.database.db, { kind: 'restore', runAt: new Date(Date.now() + 3_600_000) });

    const [a, b] = await Promise.all([claim('a'), claim('b')]);
    const ids = [...a!, ...b!].map((j) => j.id);
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(4);
    expect([...a!, ...b!].every((j) => j.attempts === 1 && j.kind === 'restore')).toBe(true);
    expect(await claim('c')).toEqual([]);
  });

  it('completes, retries after a failure, and gives up after max attempts', async () => {
    const job = await enqueueJob(t.core.database.db, { kind: 'restore', maxAttempts: 2 });
    const [first] = await claim('w');
    expect(await completeJob(t.core.database.db, first!.id, 'someone-else')).toBe(false);
    await failJob(t.core.database.db, first!.id, 'w', 'boom', 0);
    const [second] = await claim('w');
    expect(second).toMatchObject({ id: job.id, attempts: 2, last_error: 'boom' });
    await failJob(t.core.database.db, second!.id, 'w', 'boom again', 0);
    expect(await claim('w')).toEqual([]);
    const row = await t.core.database.db.selectFrom('jobs').selectAll().where('id', '=', job.id).executeTakeFirstOrThrow();
    expect(row.done_at).not.toBeNull();
    expect(row.last_error).toBe('boom again');

    const other = await enqueueJob(t.core.database.db, { kind: 'restore' });
    const [claimed] = await claim('w');
    expect(await completeJob(t.core.database.db, claimed!.id, 'w')).toBe(true);
    expect(claimed!.id).toBe(other.id);
    expect(await claim('w')).toEqual([]);
  });

  it('a job whose lease ran out (its worker died) is claimed again', async () => {
    await enqueueJob(t.core.database.db, { kind: 'restore' });
    const [first] = await claim('dead', 1, 1);
    await new Promise((r) => setTimeout(r, 20));
    const [again] = await claim('alive', 1);
    expect(again).toMatchObject({ id: first!.id, locked_by: 'alive', attempts: 2 });
  });

  if (backend === 'postgres') {
    it('skips rows another transaction holds instead of waiting for them (SKIP LOCKED)', async () => {
      for (let i = 0; i < 3; i++) await enqueueJob(t.core.database.db, { kind: 'restore' });
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let locked!: (id: number) => void;
      const lockedId = new Promise<number>((r) => (locked = r));
      const holder = t.core.database.db.transaction().execute(async (trx) => {
        const row = (await sql<{ id: number }>`SELECT id FROM jobs ORDER BY id LIMIT 1 FOR UPDATE`.execute(trx)).rows[0]!;
        locked(row.id);
        await held;
      });
      const heldId = await lockedId;
      const claimed = await claim('w', 10);
      release();
      await holder;
      expect(claimed).toHaveLength(2);
      expect(claimed.map((j) => j.id)).not.toContain(heldId);
    });
  }
});
