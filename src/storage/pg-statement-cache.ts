/**
 * A pg client that prepares each small statement once per connection (a named statement keyed by its
 * SQL text), so PostgreSQL parses and plans the hot paths once instead of on every call. On this machine
 * it took suspend/reactivate from ~1,700 to ~2,900 transactions per second with 8 callers (bench/).
 *
 * Bounded: only statements with few parameters and short text are prepared (bulk multi-row INSERTs are
 * not), and at most MAX_PER_CONNECTION per connection. When a migration by another node changes a
 * table's row type under a prepared `SELECT *`, PostgreSQL refuses the statement once ("cached plan
 * must not change result type"): the text gets a fresh name, and outside a transaction the query is
 * retried at once.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';

const MAX_PER_CONNECTION = 500;
const MAX_PARAMETERS = 100;
const MAX_TEXT = 8192;
const PLAN_CHANGED = '0A000';

export class PreparingClient extends pg.Client {
  private readonly names = new Map<string, string>();
  private generation = 0;
  private inTransaction = false;

  private nameFor(text: string, parameters: number): string | undefined {
    if (parameters === 0 || parameters > MAX_PARAMETERS || text.length > MAX_TEXT) return undefined;
    let name = this.names.get(text);
    if (name === undefined && this.names.size < MAX_PER_CONNECTION) {
      name = `cordon_${this.generation}_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
      this.names.set(text, name);
    }
    return name;
  }

  // pg's overloads are many; Kysely calls query(text, values) and awaits the promise.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(...args: unknown[]): any {
    const [text, values] = args;
    if (typeof text !== 'string' || !Array.isArray(values) || args.length !== 2) {
      return (super.query as (...a: unknown[]) => unknown)(...args);
    }
    // A bare `begin` waits for the transaction's first statement and goes out in the same write: one
    // round trip fewer for every transaction (see sendWithBegin).
    if (text === 'begin' && values.length === 0 && !this.inTransaction) {
      this.inTransaction = true;
      this.pendingBegin = true;
      return Promise.resolve({ command: 'BEGIN', rowCount: null, oid: 0, rows: [], fields: [] });
    }
    if (/^\s*(begin|start\s+transaction)\b/i.test(text)) this.inTransaction = true;
    else if (/^\s*(commit|rollback|end)\b/i.test(text)) this.inTransaction = false;
    return this.run(text, values, !this.inTransaction);
  }

  private pendingBegin = false;

  private async run(text: string, values: unknown[], mayRetry: boolean): Promise<pg.QueryResult> {
    const name = this.nameFor(text, values.length);
    if (this.pendingBegin) {
      this.pendingBegin = false;
      return this.sendWithBegin(name, text, values);
    }
    if (!name) return super.query(text, values);
    try {
      return await super.query({ name, text, values });
    } catch (error) {
      if ((error as { code?: string }).code !== PLAN_CHANGED) throw error;
      this.names.delete(text);
      this.generation++;
      // Inside a transaction the error has aborted it: the caller must see it.
      if (!mayRetry) throw error;
      return this.run(text, values, false);
    }
  }

  /**
   * BEGIN and the statement after it in one write. With parameters, in the extended protocol: BEGIN's
   * Parse/Bind/Execute, then the statement's, then one Sync (PostgreSQL runs them in order, as a
   * pipeline); without, as one simple query `BEGIN; …`. Either way pg collects two results, the
   * statement's last. An error in the statement leaves the transaction begun and aborted, as it would
   * have been in two round trips: the caller rolls back.
   */
  private async sendWithBegin(name: string | undefined, text: string, values: unknown[]): Promise<pg.QueryResult> {
    if (values.length === 0) return lastResult(await super.query(`BEGIN; ${text}`));
    const results = await new Promise<pg.QueryResult | pg.QueryResult[]>((resolve, reject) => {
      const config = {
        ...(name ? { name } : {}),
        text,
        values,
        callback: (error: Error | null, result: pg.QueryResult | pg.QueryResult[]) =>
          error ? reject(error) : resolve(result),
      };
      const query = new pg.Query(config) as pg.Query & { prepare(connection: PgConnection): void };
      const prepare = query.prepare.bind(query);
      query.prepare = (connection) => {
        connection.parse({ text: 'BEGIN', name: '', types: [] });
        connection.bind({ portal: '', statement: '', values: [], binary: false });
        connection.execute({ portal: '', rows: 0 });
        prepare(connection);
      };
      super.query(query);
    });
    return lastResult(results);
  }
}

/** The protocol calls sendWithBegin makes on pg's connection (its internals have no published types). */
interface PgConnection {
  parse(message: { text: string; name: string; types: unknown[] }): void;
  bind(message: { portal: string; statement: string; values: unknown[]; binary: boolean }): void;
  execute(message: { portal: string; rows: number }): void;
}

const lastResult = (result: pg.QueryResult | pg.QueryResult[]): pg.QueryResult =>
  Array.isArray(result) ? result[result.length - 1]! : result;
