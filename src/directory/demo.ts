/**
 * The demo account created on the first start of an empty database (CORDON_DEMO=true, the default),
 * so that `npm ci && npm start` shows a directory to work with.
 */
import { sql } from 'kysely';
import type { CallContext } from '../audit/entry.js';
import type { User } from '../storage/schema.js';
import { listAccounts } from '../store/accounts.js';
import { insertAccountWithOwner, prepareAccount, type CreatedAccount, type PreparedAccount } from './accounts.js';
import type { DirectoryDeps } from './deps.js';
import { insertSessionWithAudit } from './sessions.js';
import { insertUsersWithGroups } from './users.js';
import type { NewUserInput } from './validate.js';

const FIRST = [
  'Ada',
  'Grace',
  'Alan',
  'Barbara',
  'Dennis',
  'Edsger',
  'Frances',
  'Hedy',
  'Ken',
  'Linus',
  'Margaret',
  'Niklaus',
  'Radia',
  'Shafi',
  'Tim',
  'Whitfield',
  'Yukihiro',
  'Adi',
  'Bjarne',
  'Carol',
  'Donald',
  'Elizabeth',
  'Fernando',
  'Guido',
  'Ivan',
  'John',
  'Katherine',
  'Leslie',
];
const LAST = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Liskov',
  'Ritchie',
  'Dijkstra',
  'Allen',
  'Lamarr',
  'Thompson',
  'Torvalds',
  'Hamilton',
  'Wirth',
  'Perlman',
  'Goldwasser',
  'Berners-Lee',
  'Diffie',
  'Matsumoto',
  'Shamir',
  'Stroustrup',
  'Shaw',
  'Knuth',
  'Feinler',
  'Corbato',
  'van Rossum',
  'Sutherland',
  'McCarthy',
  'Johnson',
  'Lamport',
];
const GROUPS = ['Engineering', 'Finance', 'Security Operations', 'Contractors'];
const DOMAIN = 'demo.cordon.test';

export interface DemoSummary extends CreatedAccount {
  /** The demo's ADMINs: the people who can be a second approver (none has credentials until reset). */
  admins: Array<Pick<User, 'id' | 'email' | 'display_name'>>;
  members: number;
  groups: string[];
  sessions: number;
}

/** Advisory lock key ("Cordon"): nodes starting together on one empty database seed it once. */
const SEED_LOCK = 0x436f72646f6e;

const DEMO_ACCOUNT = { name: 'Demo Security Co', owner: { email: `owner@${DOMAIN}`, display_name: 'Olivia Owner' } };

/**
 * The demo owner's credentials, made ahead: the scrypt hash runs on the thread pool, so a start that
 * expects an empty database can make them while the database opens (see startServer).
 */
export function prepareDemo(): Promise<PreparedAccount> {
  return prepareAccount(DEMO_ACCOUNT);
}

/** Seeds the demo account, in one transaction, when the database has no account yet; otherwise undefined. */
export async function seedDemoIfEmpty(
  deps: DirectoryDeps,
  ctx: CallContext,
  preparing?: Promise<PreparedAccount>,
): Promise<DemoSummary | undefined> {
  if ((await listAccounts(deps.db)).length > 0) return undefined;
  const input = DEMO_ACCOUNT;
  const prepared = await (preparing ?? prepareDemo());
  return deps.audit.transact(async (trx) => {
    await sql`SELECT pg_advisory_xact_lock(${SEED_LOCK})`.execute(trx);
    if ((await listAccounts(trx)).length > 0) return undefined;
    const { account, owner } = await insertAccountWithOwner(deps, trx, ctx, input, prepared);
    const users = await insertUsersWithGroups(deps, trx, ctx, account.id, DEMO_PEOPLE);
    const withSessions = users.slice(0, 8);
    for (const [i, user] of withSessions.entries())
      await insertSessionWithAudit(deps, trx, ctx, account.id, user.id, i % 2 === 0 ? 'web' : 'cli');
    return {
      account,
      owner,
      ownerCredentials: prepared.ownerCredentials,
      admins: users
        .filter((u) => u.role === 'ADMIN')
        .map(({ id, email, display_name }) => ({ id, email, display_name })),
      members: DEMO_PEOPLE.filter((p) => p.role === 'MEMBER').length,
      groups: GROUPS,
      sessions: withSessions.length,
    };
  });
}

const DEMO_PEOPLE: NewUserInput[] = FIRST.map((first, i) => ({
  email: `${first}.${LAST[i]!}`.toLowerCase().replace(/[^a-z.]/g, '') + `@${DOMAIN}`,
  display_name: `${first} ${LAST[i]!}`,
  role: i < 3 ? 'ADMIN' : 'MEMBER',
  externally_managed: i === FIRST.length - 1,
  groups: i < 3 ? ['Security Operations'] : [GROUPS[i % 2]!, ...(i % 7 === 0 ? ['Contractors'] : [])],
}));
