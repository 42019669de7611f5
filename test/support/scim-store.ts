/**
 * The in-memory store behind the test SCIM server (scim-server.ts), and SCIMMY's User resource handlers
 * over it: egress (read, with the library filtering by the request's filter), ingress (create and replace:
 * PUT, and PATCH after the library applied the PatchOp) and degress (delete).
 */
import { randomUUID } from 'node:crypto';
import SCIMMY from 'scimmy';

/** A user as the store holds it: SCIM core attributes (the store is the truth the tests judge by). */
export interface ScimUser {
  id: string;
  userName: string;
  active: boolean;
  displayName?: string;
  title?: string;
  emails?: { value: string; type?: string; primary?: boolean }[];
  name?: { givenName?: string; familyName?: string };
  /** Bumped on every write; served as meta.version (and ETag) when ETags are on. */
  version: number;
  [attribute: string]: unknown;
}

export interface Store {
  users: Map<string, ScimUser>;
  groups: Map<string, { displayName: string; members: Set<string> }>;
}

/** The resource as SCIM serves it: the stored attributes, computed groups, and meta.version when ETags are on. */
export function egressView(store: Store, user: ScimUser, etags: boolean): Record<string, unknown> {
  const { version, ...attributes } = user;
  const groups = [...store.groups].filter(([, g]) => g.members.has(user.id));
  return {
    ...attributes,
    ...(groups.length ? { groups: groups.map(([value, g]) => ({ value, display: g.displayName })) } : {}),
    meta: { created: new Date(0), lastModified: new Date(0), ...(etags ? { version: etagOf(version) } : {}) },
  };
}

export function etagOf(version: number): string {
  return `W/"${version}"`;
}

export interface Context {
  store: Store;
  etags: () => boolean;
}

function contextOf(ctx: unknown): Context {
  return ctx as Context;
}

/** SCIMMY's User resource handlers, declared once per process; each request's context names its server's store. */
export function declareUsers(): void {
  if (SCIMMY.Resources.declared('User')) return;
  SCIMMY.Resources.declare(SCIMMY.Resources.User)
    .egress((resource, ctx) => {
      const { store, etags } = contextOf(ctx);
      if (resource.id !== undefined) {
        const found = store.users.get(resource.id);
        if (!found) throw new SCIMMY.Types.Error(404, '', `Resource ${resource.id} not found`);
        return egressView(store, found, etags()) as never;
      }
      const all = [...store.users.values()].map((u) => egressView(store, u, etags()));
      // The library filters with the request's parsed filter; sorting and paging are its ListResponse's.
      return (resource.filter ? resource.filter.match(all) : all) as never;
    })
    .ingress((resource, instance, ctx) => {
      const { store, etags } = contextOf(ctx);
      const {
        id: _id,
        meta: _meta,
        groups: _groups,
        schemas: _schemas,
        ...attributes
      } = instance as unknown as Record<string, unknown>;
      const id = resource.id ?? randomUUID();
      const previous = store.users.get(id);
      if (resource.id !== undefined && !previous) throw new SCIMMY.Types.Error(404, '', `Resource ${id} not found`);
      // A plain copy: the library's schema instance holds proxies and getters.
      const plain = JSON.parse(JSON.stringify(attributes)) as Record<string, unknown>;
      const user = { active: true, ...plain, id, version: (previous?.version ?? 0) + 1 } as ScimUser;
      store.users.set(id, user);
      return egressView(store, user, etags()) as never;
    })
    .degress((resource, ctx) => {
      const { store } = contextOf(ctx);
      if (!resource.id || !store.users.delete(resource.id))
        throw new SCIMMY.Types.Error(404, '', `Resource ${resource.id} not found`);
    });
}
