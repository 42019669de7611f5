/**
 * A Kysely dialect for PGlite (reference/dependencies.md §2.2–2.3).
 *
 * PGlite is one PostgreSQL session inside this process. A plain query issued while another caller's
 * BEGIN is open would silently run inside that transaction, so every Kysely transaction runs inside
 * `pglite.transaction()`, whose lock every other PGlite caller waits on. Concurrent transactions queue;
 * raw queries wait instead of joining. When the project moves to Node 22, switch to Kysely 0.29's
 * built-in PGliteDialect and delete this file.
 */
import type { PGlite, Transaction } from '@electric-sql/pglite';
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';

export class PGliteDialect implements Dialect {
  constructor(private readonly pglite: PGlite) {}

  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PGliteDriver(this.pglite);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
  createIntrospector(db: Kysely<unknown>) {
    return new PostgresIntrospector(db);
  }
}

class PGliteDriver implements Driver {
  constructor(private readonly pglite: PGlite) {}

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    return new PGliteConnection(this.pglite);
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    await (connection as PGliteConnection).begin(settings);
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PGliteConnection).end(true);
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await (connection as PGliteConnection).end(false);
  }

  async releaseConnection(): Promise<void> {}

  async destroy(): Promise<void> {
    if (!this.pglite.closed) await this.pglite.close();
  }
}

/** One lightweight connection per acquisition; it holds the PGlite transaction while one is open. */
class PGliteConnection implements DatabaseConnection {
  private tx: Transaction | undefined;
  private finish: ((commit: boolean) => void) | undefined;
  private done: Promise<unknown> | undefined;

  constructor(private readonly pglite: PGlite) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const runner = this.tx ?? this.pglite;
    const result = await runner.query<R>(query.sql, query.parameters as unknown[]);
    return {
      rows: result.rows ?? [],
      ...(result.affectedRows !== undefined ? { numAffectedRows: BigInt(result.affectedRows) } : {}),
    };
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('PGliteDialect does not support streaming queries');
  }

  async begin(settings: TransactionSettings): Promise<void> {
    let started!: () => void;
    const ready = new Promise<void>((resolve) => (started = resolve));
    const decision = new Promise<boolean>((resolve) => (this.finish = resolve));
    this.done = this.pglite.transaction(async (tx) => {
      this.tx = tx;
      if (settings.isolationLevel) await tx.query(`set transaction isolation level ${settings.isolationLevel}`);
      if (settings.accessMode) await tx.query(`set transaction ${settings.accessMode}`);
      started();
      if (!(await decision)) await tx.rollback();
    });
    // Either the transaction starts, or it fails before starting (e.g. a bad isolation level).
    await Promise.race([ready, this.done]);
  }

  async end(commit: boolean): Promise<void> {
    const done = this.done;
    this.finish?.(commit);
    try {
      await done;
    } finally {
      this.tx = undefined;
      this.finish = undefined;
      this.done = undefined;
    }
  }
}
