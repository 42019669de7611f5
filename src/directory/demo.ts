/**
 * The demo account created on the first start of an empty database (CORDON_DEMO=true, the default),
 * so that `npm ci && npm start` shows a directory to work with.
 */
import type { CallContext } from '../audit/entry.js';
import { listAccounts } from '../store/accounts.js';
import { createAccount, type CreatedAccount } from './accounts.js';
import type { DirectoryDeps } from './deps.js';
import { openSession } from './sessions.js';
import { insertUsersWithGroups } from './users.js';
import type { NewUserInput } from './validate.js';

const FIRST = ['Ada', 'Grace', 'Alan', 'Barbara', 'Dennis', 'Edsger', 'Frances', 'Hedy', 'Ken', 'Linus', 'Margaret', 'Niklaus', 'Radia', 'Shafi', 'Tim', 'Whitfield', 'Yukihiro', 'Adi', 'Bjarne', 'Carol', 'Donald', 'Elizabeth', 'Fernando', 'Guido', 'Ivan', 'John', 'Katherine', 'Leslie'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Liskov', 'Ritchie', 'Dijkstra', 'Allen', 'Lamarr', 'Thompson', 'Torvalds', 'Hamilton', 'Wirth', 'Perlman', 'Goldwasser', 'Berners-Lee', 'Diffie', 'Matsumoto', 'Shamir', 'Stroustrup', 'Shaw', 'Knuth', 'Feinler', 'Corbato', 'van Rossum', 'Sutherland', 'McCarthy', 'Johnson', 'Lamport'];
const GROUPS = ['Engineering', 'Finance', 'Security Operations', 'Contractors'];
const DOMAIN = 'demo.cordon.test';

export interface DemoSummary extends CreatedAccount {
  admins: number;
  members: number;
  groups: string[];
  sessions: number;
}

/** Seeds the demo account when the database has no account yet; returns undefined otherwise. */
export async function seedDemoIfEmpty(deps: DirectoryDeps, ctx: CallContext): Promise<DemoSummary | undefined> {
  if ((await listAccounts(deps.db)).length > 0) return undefined;
  const created = await createAccount(deps, ctx, {
    name: 'Demo Security Co',
    owner: { email: `owner@${DOMAIN}`, display_name: 'Olivia Owner' },
  });
  const accountId = created.account.id;
  const people: NewUserInput[] = FIRST.map((first, i) => {
    const last = LAST[i]!;
    const role = i < 3 ? 'ADMIN' : 'MEMBER';
    const groups = i < 3 ? ['Security Operations'] : [GROUPS[i % 2 === 0 ? 0 : 1]!, ...(i % 7 === 0 ? ['Contractors'] : [])];
    return {
      email: `${first}.${last}`.toLowerCase().replace(/[^a-z.]/g, '') + `@${DOMAIN}`,
      display_name: `${first} ${last}`,
      role,
      externally_managed: i === 27,
      groups,
    };
  });
  const users = await deps.audit.transact((trx) => insertUsersWithGroups(deps, trx, ctx, accountId, people));
  let sessions = 0;
  for (const user of users.slice(0, 8)) {
    await openSession(deps, ctx, accountId, user.id, sessions % 2 === 0 ? 'web' : 'cli');
    sessions++;
  }
  return {
    ...created,
    admins: people.filter((p) => p.role === 'ADMIN').length,
    members: people.filter((p) => p.role === 'MEMBER').length,
    groups: GROUPS,
    sessions,
  };
}
