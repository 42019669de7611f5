import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { Core } from '../../src/app.js';
import type { CallContext } from '../../src/audit/entry.js';
import { createAccount } from '../../src/directory/accounts.js';
import { createUser } from '../../src/directory/users.js';
import { createLogger } from '../../src/logger.js';
import type { User } from '../../src/storage/schema.js';

export const testCtx: CallContext = { actor: { type: 'operator', id: 'tester@test' }, authz: { method: 'test' } };

export interface SeededAccount {
  accountId: string;
  owner: User;
  admin: User;
  members: User[];
  eam: User;
}

/** An account with one owner, one admin, `members` members and one externally managed member. */
export async function seedAccount(core: Core, members = 3): Promise<SeededAccount> {
  const { account, owner } = await createAccount(core.directory, testCtx, {
    name: 'Test Co',
    owner: { email: 'owner@test.example', display_name: 'Owner' },
  });
  const admin = await createUser(core.directory, testCtx, account.id, { email: 'admin@test.example', display_name: 'Admin', role: 'ADMIN' });
  const list: User[] = [];
  for (let i = 0; i < members; i++) {
    list.push(await createUser(core.directory, testCtx, account.id, { email: `m${i}@test.example`, display_name: `Member ${i}`, groups: ['Staff'] }));
  }
  const eam = await createUser(core.directory, testCtx, account.id, {
    email: 'eam@test.example',
    display_name: 'Managed Elsewhere',
    role: 'ADMIN',
    externally_managed: true,
  });
  return { accountId: account.id, owner, admin, members: list, eam };
}

/** A logger at `info` whose JSON lines the test can read. */
export function captureLogs(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger('info', sink), lines };
}
