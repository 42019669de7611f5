import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, createTestDatabase, type TestDatabase } from '../../test/support/backends.js';
import { PreparingClient } from './pg-statement-cache.js';

describe.runIf(BACKENDS.includes('postgres'))('PreparingClient [postgres]', () => {
  let database: TestDatabase;
  let client: PreparingClient;
  let other: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    client = new PreparingClient({ connectionString: database.env.DATABASE_URL });
    other = new pg.Client({ connectionString: database.env.DATABASE_URL });
    await Promise.all([client.connect(), other.connect()]);
    await other.query('CREATE TABLE t (id int PRIMARY KEY, v text)');
    await other.query("INSERT INTO t VALUES (1, 'one'), (2, 'two')");
  });
  afterAll(async () => {
    await Promise.all([client.end(), other.end()]);
    await database.drop();
  });

  it('prepares a parameterized statement once and reuses it', async () => {
    expect((await client.query('SELECT v FROM t WHERE id = $1', [1])).rows).toEqual([{ v: 'one' }]);
    expect((await client.query('SELECT v FROM t WHERE id = $1', [2])).rows).toEqual([{ v: 'two' }]);
    const names: Array<{ name: string }> = (
      await client.query('SELECT name FROM pg_prepared_statements WHERE statement LIKE $1', ['%FROM t WHERE id%'])
    ).rows;
    expect(names).toHaveLength(1);
    expect(names[0]!.name).toMatch(/^cordon_0_[0-9a-f]{24}$/);
  });

  it('recovers when a migration changes the row type under a prepared SELECT *', async () => {
    expect((await client.query('SELECT * FROM t WHERE id = $1', [1])).rows).toEqual([{ id: 1, v: 'one' }]);
    await other.query('ALTER TABLE t ADD COLUMN w int DEFAULT 7');
    // Outside a transaction: retried at once under a fresh name.
    expect((await client.query('SELECT * FROM t WHERE id = $1', [1])).rows).toEqual([{ id: 1, v: 'one', w: 7 }]);

    // Inside one: the transaction is aborted, so the caller sees the error; the next try works.
    await other.query('ALTER TABLE t ADD COLUMN x int DEFAULT 8');
    await client.query('BEGIN', []);
    await expect(client.query('SELECT * FROM t WHERE id = $1', [1])).rejects.toMatchObject({ code: '0A000' });
    await client.query('ROLLBACK', []);
    expect((await client.query('SELECT * FROM t WHERE id = $1', [1])).rows).toEqual([{ id: 1, v: 'one', w: 7, x: 8 }]);
  });

  it('does not prepare bulk statements', async () => {
    const values = Array.from({ length: 200 }, (_, i) => i + 10);
    const placeholders = values.map((_, i) => `($${i + 1}, 'bulk')`).join(', ');
    await client.query(`INSERT INTO t (id, v) VALUES ${placeholders}`, values);
    const prepared: Array<{ statement: string }> = (
      await client.query('SELECT statement FROM pg_prepared_statements WHERE $1::int > 0', [1])
    ).rows;
    expect(prepared.some((p) => p.statement.includes("'bulk'"))).toBe(false);
  });

  it('leaves queries without parameters and config objects alone', async () => {
    expect((await client.query('SELECT count(*)::int AS n FROM t WHERE id < 10')).rows).toEqual([{ n: 2 }]);
    expect((await client.query({ text: 'SELECT $1::int AS x', values: [5] })).rows).toEqual([{ x: 5 }]);
  });

  it('sends a bare begin with the first statement: one transaction, its results, its errors', async () => {
    const backend = async () =>
      (await client.query('SELECT pg_backend_pid() AS pid, txid_current_if_assigned() AS xid, now()::text AS t', []))
        .rows[0];
    // Parameterized first statement (extended protocol): it runs inside the transaction.
    await client.query('begin', []);
    const inserted = await client.query('INSERT INTO t (id, v) VALUES ($1, $2) RETURNING v', [1010, 'ten']);
    expect(inserted.rows).toEqual([{ v: 'ten' }]);
    const inside = await backend();
    expect(inside.xid).not.toBeNull();
    await client.query('rollback', []);
    expect((await other.query('SELECT count(*)::int AS n FROM t WHERE id = 1010')).rows).toEqual([{ n: 0 }]);

    // A first statement without parameters (simple protocol), then commit.
    await client.query('begin', []);
    expect((await client.query("INSERT INTO t (id, v) VALUES (1011, 'eleven') RETURNING id", [])).rows).toEqual([
      { id: 1011 },
    ]);
    await client.query('commit', []);
    expect((await other.query('SELECT v FROM t WHERE id = 1011')).rows).toEqual([{ v: 'eleven' }]);

    // A failing first statement leaves the transaction begun and aborted; rollback ends it.
    await client.query('begin', []);
    await expect(client.query('INSERT INTO t (id, v) VALUES ($1, $2)', [1011, 'again'])).rejects.toMatchObject({
      code: '23505',
    });
    await expect(client.query('SELECT 1 AS one', [])).rejects.toMatchObject({ code: '25P02' });
    await client.query('rollback', []);
    expect((await client.query('SELECT v FROM t WHERE id = $1', [1011])).rows).toEqual([{ v: 'eleven' }]);

    // An empty transaction.
    await client.query('begin', []);
    await client.query('commit', []);
    expect((await backend()).xid).toBeNull();
  });
});
