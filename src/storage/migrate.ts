import { Migrator, type Kysely, type MigrationProvider } from 'kysely';
import { AppError } from '../errors.js';
import { migrations } from './migrations/index.js';
import type { Database } from './schema.js';

const provider: MigrationProvider = { getMigrations: async () => migrations };

export async function migrateToLatest(db: Kysely<Database>): Promise<void> {
  const migrator = new Migrator({ db, provider, migrationTableName: 'cordon_migrations', migrationLockTableName: 'cordon_migrations_lock' });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new AppError('UNAVAILABLE', { detail: `migration ${failed} failed`, cause: error });
  }
}
