/**
 * A real SCIM 2.0 service provider for tests: SCIMMY (resources, schemas, filters, PatchOp, ListResponse,
 * errors) behind scimmy-routers (the Express routes of RFC 7644), over an in-memory user store, on a free
 * loopback port. The library speaks the protocol; this file only holds the data and the test's hands:
 * seeding users, reading a user's real state, counting writes, switching PATCH and ETags on or off in
 * /ServiceProviderConfig, and answering the next requests with an injected error.
 *
 * SCIMMY is a singleton: its ServiceProviderConfig is the process's. Each server re-applies its own switches
 * on every request it receives, so one server per test file (the usual case) sees exactly its own.
 *
 * Use: `const s = await startScimServer(); const [alice] = s.seed(1);` then a `scim` target with config
 * `{base_url: s.url, auth: 'bearer'}` and credentials `{token: s.token}` (or `{auth: 'oauth', token_url:
 * s.tokenUrl}` with `{client_id: s.clientId, client_secret: s.clientSecret}`); `s.user(alice.id)?.active`
 * is the target's real state.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import SCIMMY from 'scimmy';
import SCIMMYRouters from 'scimmy-routers';
import { declareUsers, etagOf, type Context, type ScimUser, type Store } from './scim-store.js';

export type { ScimUser } from './scim-store.js';

/** One request as the server received it (after authentication was attempted). */
export interface ScimRequest {
  method: string;
  /** Path and query below the SCIM base (`/Users/…?filter=…`). */
  path: string;
  body: unknown;
  ifMatch: string | undefined;
  authorization: string | undefined;
  contentType: string | undefined;
  userAgent: string | undefined;
}

/** An error to answer with instead of the library, for the next `times` requests that match. */
export interface InjectedAnswer {
  status: number;
  scimType?: string;
  detail: string;
  headers?: Record<string, string>;
  /** Sent as is (JSON) instead of the SCIM error body: for malformed or unexpected answers. */
  body?: unknown;
  /** Only requests with this method (default: any). */
  method?: string;
  /** Only requests whose path starts with this (default: any). */
  pathPrefix?: string;
  times?: number;
}

export interface ScimServer {
  /** The SCIM base URL (`http://127.0.0.1:<port>/scim/v2`). */
  url: string;
  /** The OAuth token endpoint (client credentials, client_secret_basic) that issues extra accepted tokens. */
  tokenUrl: string;
  /** The static bearer token the server accepts. */
  token: string;
  clientId: string;
  clientSecret: string;
  /** Every request received, oldest first. */
  requests: ScimRequest[];
  /** How many requests with this method reached a /Users resource. */
  count(method: string): number;
  /** Adds a user straight into the store (as the app's own admin would). */
  addUser(attributes: Partial<ScimUser> & { userName: string }): ScimUser;
  /** Adds n users `user0000@corp.example` … with primary work emails. */
  seed(n: number, prefix?: string): ScimUser[];
  /** The user's real state in the store (a copy), or undefined when there is none. */
  user(id: string): ScimUser | undefined;
  /** Changes attributes in the store directly (bumps the version); null removes an attribute. */
  touch(id: string, changes?: Record<string, unknown>): void;
  deleteUser(id: string): void;
  /** Group memberships live in the store; a user's `groups` attribute is read from them (read-only in SCIM). */
  addGroup(displayName: string, memberIds: string[]): string;
  removeMember(groupId: string, userId: string): void;
  groupsOf(userId: string): string[];
  setPatchSupported(supported: boolean): void;
  setEtagSupported(supported: boolean): void;
  inject(answer: InjectedAnswer): void;
  /** Runs once, before the next request with this method is handled (to change the store mid-exchange). */
  beforeNext(method: string, action: () => void): void;
  /** Forgets every OAuth-issued token (the static bearer token stays valid). */
  revokeIssuedTokens(): void;
  close(): Promise<void>;
}

function scimError(res: Response, status: number, detail: string, scimType?: string): void {
  res
    .status(status)
    .type('application/scim+json')
    .send({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
      status: String(status),
      ...(scimType ? { scimType } : {}),
      detail,
    });
}

/** Starts a SCIM service provider on 127.0.0.1 at a free port. */
export async function startScimServer(options: { token?: string } = {}): Promise<ScimServer> {
  declareUsers();
  const store: Store = { users: new Map(), groups: new Map() };
  const token = options.token ?? `scim-${randomUUID()}`;
  const clientId = `client-${randomUUID().slice(0, 8)}`;
  const clientSecret = `secret-${randomUUID()}`;
  const issued = new Set<string>();
  const requests: ScimRequest[] = [];
  const injected: InjectedAnswer[] = [];
  const hooks: { method: string; action: () => void }[] = [];
  const switches = { patch: true, etag: false };
  const context: Context = { store, etags: () => switches.etag };

  const app = express();
  // Express would tag every GET with a hash of the body; only the resource's own version is an ETag here.
  app.set('etag', false);
  app.post('/oauth/token', express.urlencoded({ extended: false }), (req: Request, res: Response) => {
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const [id, secret] = Buffer.from(basic ?? '', 'base64')
      .toString()
      .split(':');
    const grant = (req.body as Record<string, string> | undefined)?.grant_type;
    if (id !== clientId || secret !== clientSecret) {
      res.status(401).json({ error: 'invalid_client', error_description: 'client authentication failed' });
    } else if (grant !== 'client_credentials') {
      res.status(400).json({ error: 'unsupported_grant_type', error_description: 'client_credentials only' });
    } else {
      const accessToken = `oauth-${randomUUID()}`;
      issued.add(accessToken);
      res.json({ access_token: accessToken, token_type: 'Bearer', expires_in: 3600 });
    }
  });

  const base = '/scim/v2';
  app.use(base, express.json({ type: ['application/scim+json', 'application/json'] }));
  app.use(base, (req: Request, res: Response, next: NextFunction) => {
    // scimmy-routers turns startIndex/count into numbers by assigning into req.query, which Express 5
    // parses anew on every read: a plain, writable copy keeps its casts (else paging falls to 20 a page).
    Object.defineProperty(req, 'query', { value: { ...req.query }, writable: true, enumerable: true });
    SCIMMY.Config.set({ patch: switches.patch, etag: switches.etag });
    requests.push({
      method: req.method,
      path: req.originalUrl.slice(base.length),
      body: req.body as unknown,
      ifMatch: req.headers['if-match'],
      authorization: req.headers.authorization,
      contentType: req.headers['content-type'],
      userAgent: req.headers['user-agent'],
    });
    const hook = hooks.findIndex((h) => h.method === req.method);
    if (hook >= 0) hooks.splice(hook, 1)[0]?.action();
    const index = injected.findIndex(
      (a) => (!a.method || a.method === req.method) && (!a.pathPrefix || req.path.startsWith(a.pathPrefix)),
    );
    const answer = injected[index];
    if (answer) {
      if ((answer.times = (answer.times ?? 1) - 1) <= 0) injected.splice(index, 1);
      for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value);
      if (answer.body !== undefined) return void res.status(answer.status).json(answer.body);
      return scimError(res, answer.status, answer.detail, answer.scimType);
    }
    const id = /^\/Users\/([^/?]+)$/.exec(req.path)?.[1];
    const user = id ? store.users.get(decodeURIComponent(id)) : undefined;
    if (req.method === 'PATCH' && !switches.patch) return scimError(res, 501, 'PATCH is not supported');
    if (switches.etag && user) {
      const ifMatch = req.headers['if-match'];
      if ((req.method === 'PUT' || req.method === 'PATCH') && ifMatch && ifMatch !== etagOf(user.version))
        return scimError(res, 412, `Resource ${user.id} changed: version is ${etagOf(user.version)}`);
      if (req.method === 'GET') res.setHeader('ETag', etagOf(user.version));
    }
    next();
  });
  // scimmy-routers' constructor adds its authentication scheme to the process's config; start from none.
  SCIMMY.Config.set({ authenticationSchemes: [] });
  app.use(
    base,
    new SCIMMYRouters({
      type: 'bearer',
      handler: (req) => {
        const presented = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
        if (!presented) throw new Error('Authorization header with a bearer token is required');
        if (presented !== token && !issued.has(presented)) throw new Error('The bearer token is not valid');
        return 'scim-client';
      },
      context: () => context,
    }),
  );

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const users = () => store.users;
  const addUser: ScimServer['addUser'] = (attributes) => {
    const user = { active: true, ...attributes, id: attributes.id ?? randomUUID(), version: 1 } as ScimUser;
    users().set(user.id, user);
    return structuredClone(user);
  };
  return {
    url: origin + base,
    tokenUrl: `${origin}/oauth/token`,
    token,
    clientId,
    clientSecret,
    requests,
    count: (method) => requests.filter((r) => r.method === method && r.path.startsWith('/Users')).length,
    addUser,
    seed(n, prefix = 'user') {
      return Array.from({ length: n }, (_, i) => {
        const local = `${prefix}${String(i).padStart(4, '0')}`;
        return addUser({
          userName: `${local}@corp.example`,
          displayName: `User ${i}`,
          emails: [{ value: `${local}@corp.example`, type: 'work', primary: true }],
        });
      });
    },
    user: (id) => {
      const found = users().get(id);
      return found ? structuredClone(found) : undefined;
    },
    touch(id, changes = {}) {
      const user = users().get(id);
      if (!user) throw new Error(`no user ${id}`);
      for (const [name, value] of Object.entries(changes)) {
        if (value === null) delete user[name];
        else user[name] = value;
      }
      user.version += 1;
    },
    deleteUser: (id) => void users().delete(id),
    addGroup(displayName, memberIds) {
      const id = randomUUID();
      store.groups.set(id, { displayName, members: new Set(memberIds) });
      return id;
    },
    removeMember: (groupId, userId) => void store.groups.get(groupId)?.members.delete(userId),
    groupsOf: (userId) => [...store.groups.values()].filter((g) => g.members.has(userId)).map((g) => g.displayName),
    setPatchSupported: (supported) => void (switches.patch = supported),
    setEtagSupported: (supported) => void (switches.etag = supported),
    inject: (answer) => void injected.push({ ...answer }),
    beforeNext: (method, action) => void hooks.push({ method, action }),
    revokeIssuedTokens: () => issued.clear(),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
