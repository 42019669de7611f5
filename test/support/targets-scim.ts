/**
 * The SCIM target of the targets harness (see targets-harness.ts): a SCIM 2.0 server from a factory
 * (scim-server.ts, SCIMMY + scimmy-routers) holding the test's users, behind a fault proxy.
 */
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';

/** A SCIM 2.0 service provider the test runs (scim-server.ts), as the harness uses it. */
export interface ScimServer {
  /** The SCIM base URL, ending in `/scim/v2` (or wherever the server roots its endpoints). */
  url: string;
  /** The bearer token it accepts. */
  token: string;
  /** Its users as it holds them (the judge): id, userName, active. */
  users(): Promise<Array<{ id: string; userName: string; active: boolean }>>;
  close(): Promise<void>;
}

/** What starts one: users to hold (userName = email) and the bearer token to accept. */
export type ScimServerFactory = (options: {
  users: Array<{ userName: string; email: string; displayName: string }>;
  token: string;
}) => Promise<ScimServer>;

export interface ScimTarget {
  server: ScimServer;
  proxy: FaultProxy;
  /** The scim target's config and credentials through the proxy. */
  targetSpec(): { config: Record<string, unknown>; credentials: Record<string, string> };
  /** Users' `active` by userName (the judge). */
  states(): Promise<Map<string, boolean>>;
  close(): Promise<void>;
}

/** Starts the SCIM server from `factory` with `emails` as its users, behind a fault proxy. */
export async function startScimTarget(factory: ScimServerFactory, emails: string[], seed = 2): Promise<ScimTarget> {
  const token = `scim-${Math.random().toString(36).slice(2)}`;
  const server = await factory({
    users: emails.map((email) => ({ userName: email, email, displayName: email.split('@')[0]! })),
    token,
  });
  const base = new URL(server.url);
  const proxy = await startFaultProxy(base.origin, { seed });
  return {
    server,
    proxy,
    targetSpec: () => ({
      config: { base_url: `${proxy.url}${base.pathname.replace(/\/$/, '')}`, auth: 'bearer' },
      credentials: { token },
    }),
    states: async () => new Map((await server.users()).map((u) => [u.userName, u.active])),
    async close() {
      await proxy.close();
      await server.close();
    },
  };
}

/** What this harness uses of scim-server.ts's ScimServer (helper H2's SCIMMY server). */
interface ScimmyServer {
  url: string;
  token: string;
  addUser(attributes: {
    userName: string;
    displayName?: string;
    emails?: Array<{ value: string; type?: string; primary?: boolean }>;
  }): { id: string };
  user(id: string): { id: string; userName: string; active: boolean } | undefined;
  close(): Promise<void>;
}

/**
 * The SCIM server factory over scim-server.ts's `startScimServer({ token })` (SCIMMY + scimmy-routers, in
 * memory), loaded at run time so that this file compiles before that file is merged: the users are added
 * straight into its store (as the app's own admin would), and read back by id (the judge).
 */
export async function loadScimFactory(): Promise<ScimServerFactory> {
  const modulePath = './scim-server.js';
  const mod = (await import(modulePath)) as {
    startScimServer?: (options: { token?: string }) => Promise<ScimmyServer>;
  };
  const start = mod.startScimServer;
  if (!start) throw new Error('scim-server.ts: expected an export startScimServer');
  return async ({ users, token }) => {
    const server = await start({ token });
    const ids = users.map(
      (u) =>
        server.addUser({
          userName: u.userName,
          displayName: u.displayName,
          emails: [{ value: u.email, type: 'work', primary: true }],
        }).id,
    );
    return {
      url: server.url,
      token: server.token,
      users: async () =>
        ids.flatMap((id) => {
          const user = server.user(id);
          return user ? [{ id: user.id, userName: user.userName, active: user.active }] : [];
        }),
      close: () => server.close(),
    };
  };
}
