// The three regression tests of reference/dependencies.md §2.3: each failed with the PGlite dialects on npm.
import { PGlite } from '@electric-sql/pglite';
import { Kysely, sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PGliteDialect } from './pglite-dialect.js';

interface Db {
  t: { id: number; v: string };
}

describe('PGliteDialect', () => {
  let pglite: PGlite;
  let db: Kysely<Db>;

  beforeAll(async () => {
    pglite = await PGlite.create();
    db = new Kysely<Db>({ dialect: new PGliteDialect(pglite) });
    await sql`CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)`.execute(db);
  });
  afterAll(() => db.destroy());
  beforeEach(() => sql`TRUNCATE t`.execute(db));

  it('20 concurrent read-then-insert transactions end with the right rows', async () => {
    await Promise.all(
      Array.from({ length: 20 }, () =>
        db.transaction().execute(async (trx) => {
          const { n } = await trx
            .selectFrom('t')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow();
          await trx
            .insertInto('t')
            .values({ id: Number(n) + 1, v: 'x' })
            .execute();
        }),
      ),
    );
    const rows = await db.selectFrom('t').select('id').orderBy('id').execute();
    expect(rows.map((r) => r.id)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('a failing transaction beside a succeeding one leaves only the successful row', async () => {
    const failing = db.transaction().execute(async (trx) => {
      await trx.insertInto('t').values({ id: 1, v: 'doomed' }).execute();
      await new Promise((r) => setTimeout(r, 20));
      throw new Error('boom');
    });
    const succeeding = db.transaction().execute(async (trx) => {
      await trx.insertInto('t').values({ id: 2, v: 'kept' }).execute();
    });
    await expect(failing).rejects.toThrow('boom');
    await succeeding;
    expect(await db.selectFrom('t').selectAll().execute()).toEqual([{ id: 2, v: 'kept' }]);
  });

  it('a raw query issued mid-transaction waits and sees no uncommitted row', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let inserted!: () => void;
    const didInsert = new Promise<void>((r) => (inserted = r));
    const tx = db.transaction().execute(async (trx) => {
      await trx.insertInto('t').values({ id: 1, v: 'uncommitted' }).execute();
      inserted();
      await held;
      throw new Error('rollback');
    });
    await didInsert;
    const raw = pglite.query<{ n: number }>('SELECT count(*)::int AS n FROM t');
    release();
    await expect(tx).rejects.toThrow('rollback');
    expect((await raw).rows[0]!.n).toBe(0);
  });

  it('reports a failure to start a transaction instead of hanging', async () => {
    await expect(
      db
        .transaction()
        .setIsolationLevel('bogus' as never)
        .execute(async () => undefined),
    ).rejects.toThrow();
    expect(await db.selectFrom('t').selectAll().execute()).toEqual([]);
  });
});
