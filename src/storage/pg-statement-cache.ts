/**
 * A pg client that prepares each statement once per connection (a named statement keyed by its SQL
 * text), so PostgreSQL parses and plans the hot paths once instead of on every call. On this machine it
 * took suspend/reactivate from ~1,700 to ~2,900 transactions per second with 8 callers (bench/).
 *
 * Bounded: past `MAX_PER_CONNECTION` distinct texts, new ones run unnamed. When a table's row type
 * changes under a prepared `SELECT *` (a migration by another node), PostgreSQL refuses the statement
 * once ("cached plan must not change result type"); that text then gets a fresh name.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';

const MAX_PER_CONNECTION = 500;
const PLAN_CHANGED = '0A000';

export class PreparingClient extends pg.Client {
  private readonly names = new Map<string, string>();
  private generation = 0;

  private nameFor(text: string): string | undefined {
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
    if (typeof text === 'string' && Array.isArray(values) && values.length > 0 && args.length === 2) {
      const name = this.nameFor(text);
      if (name) {
        return (super.query({ name, text, values }) as Promise<pg.QueryResult>).catch((error: { code?: string }) => {
          if (error?.code === PLAN_CHANGED) {
            this.names.delete(text);
            this.generation++;
          }
          throw error;
        });
      }
    }
    return (super.query as (...a: unknown[]) => unknown)(...args);
  }
}
