/**
 * A Kysely instance with no database behind it: every statement is answered by `answer`, which can
 * fail it (a lost connection) or hold it (a database that does not answer). For the units that must
 * behave when PostgreSQL is away (the group commit, the sequencer), without stopping a real server.
 */
import {
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
} from 'kysely';
import type { Database } from '../../src/storage/schema.js';

export function scriptedDatabase(answer: (query: CompiledQuery) => Promise<QueryResult<unknown>>): Kysely<Database> {
  const connection: DatabaseConnection = {
    executeQuery: <R>(query: CompiledQuery) => answer(query) as Promise<QueryResult<R>>,
    streamQuery: () => {
      throw new Error('scriptedDatabase: no streaming');
    },
  };
  const driver: Driver = {
    init: async () => undefined,
    acquireConnection: async () => connection,
    beginTransaction: async () => undefined,
    commitTransaction: async () => undefined,
    rollbackTransaction: async () => undefined,
    releaseConnection: async () => undefined,
    destroy: async () => undefined,
  };
  return new Kysely<Database>({
    dialect: {
      createAdapter: () => new PostgresAdapter(),
      createDriver: () => driver,
      createIntrospector: (db) => new PostgresIntrospector(db),
      createQueryCompiler: () => new PostgresQueryCompiler(),
    },
  });
}

/** The error pg raises when the server ends the connection under a query (`pg_ctl stop -m immediate`). */
export const connectionLost = () => new Error('Connection terminated unexpectedly');
