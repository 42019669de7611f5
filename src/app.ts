/**
 * The composition root: config → db → store → services → http. Everything is built here and passed
 * down as explicit arguments.
 */
import type { Logger } from 'pino';
import { AuditLog } from './audit/log.js';
import type { Config } from './config.js';
import type { DirectoryDeps } from './directory/deps.js';
import { openDatabase, type DatabaseHandle } from './storage/db.js';

export interface Core {
  config: Config;
  database: DatabaseHandle;
  audit: AuditLog;
  directory: DirectoryDeps;
  logger: Logger;
  close(): Promise<void>;
}

export interface CreateCoreOptions {
  /** Who holds the embedded data dir: `serve` or a CLI command's name. */
  holder: string;
  logger: Logger;
  /** Test support: start PGlite from this dump instead of running initdb. */
  loadDataDir?: Blob;
}

export async function createCore(config: Config, options: CreateCoreOptions): Promise<Core> {
  const database = await openDatabase({
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    pgPoolMax: config.pgPoolMax,
    holder: options.holder,
    ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
  });
  const audit = new AuditLog(database.db, {
    sequencerIntervalMs: config.sequencerIntervalMs,
    sequencerBatch: config.sequencerBatch,
    groupCommitMaxBatch: config.groupCommitMaxBatch,
    groupCommitConcurrency: config.groupCommitConcurrency,
    logger: options.logger,
  });
  audit.sequencer.start();
  return {
    config,
    database,
    audit,
    directory: { db: database.db, audit },
    logger: options.logger,
    async close() {
      await audit.settle();
      await audit.sequencer.stop();
      // Number what this process committed before letting go of the database.
      await audit.sequencer.drain().catch((error: unknown) => options.logger.warn({ err: error }, 'final audit sequencing failed'));
      await database.close();
    },
  };
}
