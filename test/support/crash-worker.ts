/**
 * Child process of the crash test: a stream of suspend/reactivate calls through the directory service,
 * four at a time, printing one line per acknowledged call, until it is killed.
 * argv: ACCOUNT_ID FIRST_CALL_NUMBER USER_ID...
 */
import { createCore } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { isAppError } from '../../src/errors.js';
import { reactivateUser, suspendUser } from '../../src/directory/user-state.js';
import { createLogger } from '../../src/logger.js';

const [accountId, first, ...userIds] = process.argv.slice(2);
const { config } = loadConfig(process.env);
const core = await createCore(config, { holder: 'crash-worker', logger: createLogger('silent') });
const ctx = { actor: { type: 'operator' as const, id: 'crash-worker' }, authz: { method: 'test' } };
let next = Number(first);
process.stdout.write('ready\n');

async function loop(): Promise<void> {
  for (;;) {
    const call = next++;
    const userId = userIds[call % userIds.length]!;
    const verb = Math.random() < 0.5 ? 'suspend' : 'reactivate';
    let outcome: string;
    try {
      const result = await (verb === 'suspend' ? suspendUser : reactivateUser)(
        core.directory,
        { ...ctx, cause: { call } },
        accountId!,
        userId,
      );
      outcome = result.changed ? 'changed' : 'unchanged';
    } catch (error) {
      // The documented refusal (both owners cannot be suspended); anything else ends the worker.
      if (!isAppError(error) || error.code !== 'LAST_OWNER') throw error;
      outcome = 'refused';
    }
    process.stdout.write(JSON.stringify({ call, userId, verb, outcome }) + '\n');
  }
}

await Promise.all([loop(), loop(), loop(), loop()]);
