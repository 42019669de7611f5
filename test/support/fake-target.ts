/**
 * A connector kind of the tests' own, for the targets management suites: an in-memory target whose users
 * the test sets, which records every connector made and closed. It stands in for a real kind (installed
 * under a real kind's name in KINDS, which the tests restore after), so that management, sync and the
 * routes are tested without the connectors that other suites test against real servers.
 */
import { AppError } from '../../src/errors.js';
import { TargetError, type Connector, type ConnectorKind, type RemoteIdentity } from '../../src/targets/connector.js';
import { KINDS } from '../../src/targets/kinds.js';
import type { TargetKind } from '../../src/storage/schema.js';

export interface FakeTarget {
  kind: ConnectorKind;
  /** The target's users, by external id. */
  users: Map<string, RemoteIdentity>;
  /** The page size of `list`. */
  pageSize: number;
  /** Every connector made: its credentials' token, and whether it was closed. */
  made: Array<{ token: string; closed: boolean }>;
  /** Page tokens `list` was called with. */
  listed: Array<string | undefined>;
  /** Put the fake in KINDS under `name`; returns the function that puts the real kind back. */
  install(name: TargetKind): () => void;
}

const invalid = (description: string) => new AppError('INVALID_ARGUMENT', { description });
const unauthorized = () =>
  new TargetError({ class: 'auth', status: 401, code: 'invalid_token', message: 'token rejected', request_id: 'r-1' });

export function fakeTarget(): FakeTarget {
  const fake: FakeTarget = {
    users: new Map(),
    pageSize: 2,
    made: [],
    listed: [],
    install(name) {
      const real = KINDS[name];
      KINDS[name] = { ...fake.kind, kind: name };
      return () => {
        KINDS[name] = real;
      };
    },
    kind: {
      kind: 'scim',
      validate(config, credentials) {
        const c = config as { base_url?: unknown };
        if (typeof c?.base_url !== 'string' || !/^https?:\/\//.test(c.base_url))
          throw invalid('config.base_url: expected an http(s) URL');
        const token = (credentials as { token?: unknown })?.token;
        if (typeof token !== 'string' || token.length === 0) throw invalid('credentials.token: expected a string');
        return { config: { base_url: c.base_url.replace(/\/+$/, '') }, credentials: { token } };
      },
      create({ credentials }): Connector {
        const made = { token: credentials.token as string, closed: false };
        fake.made.push(made);
        const check = () => {
          if (made.token.startsWith('wrong')) throw unauthorized();
        };
        return {
          kind: 'scim',
          verifiable: true,
          async resolve(hints) {
            check();
            const email = hints.email?.toLowerCase();
            return [...fake.users.values()].find((u) => u.email?.toLowerCase() === email) ?? null;
          },
          async read(id) {
            check();
            return fake.users.get(id) ?? null;
          },
          async suspend() {},
          async reactivate() {},
          async list(page) {
            check();
            fake.listed.push(page);
            const all = [...fake.users.values()];
            const start = page === undefined ? 0 : Number(page);
            const end = start + fake.pageSize;
            return { identities: all.slice(start, end), next: end < all.length ? String(end) : undefined };
          },
          async health() {
            if (made.token.startsWith('wrong')) return { ok: false, latency_ms: 3, error: unauthorized().details };
            return { ok: true, latency_ms: 3 };
          },
          async close() {
            made.closed = true;
          },
          takeCalls: () => [],
        };
      },
    },
  };
  return fake;
}

export const person = (id: string, email: string, state: RemoteIdentity['state'] = 'ACTIVE'): RemoteIdentity => ({
  external_id: id,
  email,
  user_name: email,
  display_name: email.split('@')[0]!,
  state,
});
