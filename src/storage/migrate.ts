import { Migrator, sql, type Kysely, type MigrationProvider } from 'kysely';
import { AppError } from '../errors.js';
import { migrations } from './migrations/index.js';
import type { Database } from './schema.js';

const provider: MigrationProvider = { getMigrations: async () => migrations };
const TABLE = 'cordon_migrations';

/**
 * Whether the database has run exactly this code's migrations, no more and no fewer. Kysely's Migrator
 * first introspects the whole catalog to find its tables, which on PGlite costs most of a second on
 * every start; two plain queries answer the common case, a start with nothing to migrate.
 */
async function isCurrent(db: Kysely<Database>): Promise<boolean> {
  const { rows } = await sql<{ present: boolean }>`SELECT to_regclass(${TABLE}) IS NOT NULL AS present`.execute(db);
  if (!rows[0]?.present) return false;
  const applied = (await sql<{ name: string }>`SELECT name FROM ${sql.table(TABLE)}`.execute(db)).rows.map(
    (r) => r.name,
  );
  const known = Object.keys(migrations);
  return applied.length === known.length && known.every((name) => applied.includes(name));
}

export async function migrateToLatest(db: Kysely<Database>): Promise<void> {
  if (await isCurrent(db)) return;
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: TABLE,
    migrationLockTableName: 'cordon_migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new AppError('UNAVAILABLE', { detail: `migration ${failed} failed`, cause: error });
  }
}
