/**
 * What every command reads first: the configuration (from the CliIo's environment, never the process's),
 * and, for commands that work on the data in this process, the core.
 */
import { createCore } from '../app.js';
import type { Core } from '../core.js';
import { loadConfig, type LoadedConfig } from '../config.js';
import { createLogger } from '../logger.js';
import type { CliIo } from './io.js';

export function readConfig(io: CliIo, overrides: Record<string, string> = {}): LoadedConfig {
  return loadConfig(io.env, overrides);
}

/** Opens the database for one command (`command` names the holder of the embedded data dir). */
export function openCore(io: CliIo, command: string): Promise<Core> {
  const { config } = readConfig(io);
  return createCore(config, {
    holder: command,
    logger: createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel),
  });
}
