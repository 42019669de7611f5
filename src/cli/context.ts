import { hostname, userInfo } from 'node:os';
import { createCore } from '../app.js';
import type { Core } from '../core.js';
import type { CallContext } from '../audit/entry.js';
import { loadConfig, type LoadedConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { assertAccountExists } from '../directory/users.js';
import { listAccounts } from '../store/accounts.js';
import type { CliIo } from './io.js';
import { usageError } from './io.js';

/** The operator at the CLI, acting directly on the data directory or database. */
export function operatorContext(core: Core, reason?: string): CallContext {
  let who = 'unknown';
  try {
    who = userInfo().username;
  } catch {
    // no passwd entry (containers): keep "unknown"
  }
  return {
    actor: { type: 'operator', id: `${who}@${hostname()}` },
    authz: { method: 'local', backend: core.database.backend },
    ...(reason ? { cause: { reason } } : {}),
  };
}

export function readConfig(io: CliIo, overrides: Record<string, string> = {}): LoadedConfig {
  return loadConfig(io.env, overrides);
}

/** Opens the database for one command, runs it, and closes (numbering its audit entries first). */
export async function withCore<T>(io: CliIo, command: string, fn: (core: Core) => Promise<T>): Promise<T> {
  const { config } = readConfig(io);
  const core = await createCore(config, { holder: command, logger: createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel) });
  try {
    return await fn(core);
  } finally {
    await core.close();
  }
}

/** The account a command works on: the one given (it must exist), or the only one there is. */
export async function resolveAccount(core: Core, given: string | undefined): Promise<string> {
  if (given) {
    await assertAccountExists(core.directory, given);
    return given;
  }
  const accounts = await listAccounts(core.database.db);
  if (accounts.length === 1) return accounts[0]!.id;
  throw usageError(accounts.length === 0 ? 'no account yet: run `cordon init` first' : 'several accounts exist: pass --account ID');
}
