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
    const names: Array<{ name: string }> = (await client.query('SELECT name FROM pg_prepared_statements WHERE statement LIKE $1', ['%FROM t WHERE id%'])).rows;
    expect(names).toHaveLength(1);
    expect(names[0]!.name).toMatch(/^cordon_0_[0-9a-f]{24}$/);
  });

  it('recovers after a migration changes the row type under a prepared SELECT *', async () => {
    expect((await client.query('SELECT * FROM t WHERE id = $1', [1])).rows).toEqual([{ id: 1, v: 'one' }]);
    await other.query('ALTER TABLE t ADD COLUMN w int DEFAULT 7');
    await expect(client.query('SELECT * FROM t WHERE id = $1', [1])).rejects.toMatchObject({ code: '0A000' });
    expect((await client.query('SELECT * FROM t WHERE id = $1', [1])).rows).toEqual([{ id: 1, v: 'one', w: 7 }]);
  });

  it('leaves queries without parameters and config objects alone', async () => {
    expect((await client.query('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 2 }]);
    expect((await client.query({ text: 'SELECT $1::int AS x', values: [5] })).rows).toEqual([{ x: 5 }]);
  });
});
