/**
 * Refusals of callers that did not authenticate. They never reach an account's log: anyone can send
 * them, as fast as they like, naming any account, with any text in the path and headers. Each node
 * counts them instead, per source address and fixed window, and writes one `http.unauthenticated_refusals`
 * entry per (address, window) to the system log when the window closes (and on shutdown): the address,
 * the count, the route patterns and statuses, never a raw path, a header or an id from the request.
 *
 * What an attacker can make this write is bounded: at most `maxAddresses` addresses per window get
 * their own entry, the rest share one `other` entry, so a window costs at most maxAddresses + 1 entries
 * however many requests or addresses it saw. Counts are per node: N nodes write up to N entries for one
 * address and window, each with its share.
 */
import type { Logger } from 'pino';
import { Periodic } from '../periodic.js';
import type { AuditAction } from './actions.js';
import { SYSTEM_LOG, type AuditEntryInput } from './entry.js';
import type { AuditLog } from './log.js';

export const REFUSALS_ACTION = 'http.unauthenticated_refusals' satisfies AuditAction;
/** The bucket of the addresses past `maxAddresses` in a window. */
export const OTHER_ADDRESSES = 'other';
/** Route patterns kept per bucket; the rest count under `other`. */
const MAX_ROUTES = 16;
/** Route patterns an entry names (the most refused). */
const TOP_ROUTES = 5;

interface Bucket {
  count: number;
  routes: Map<string, number>;
  statuses: Map<number, number>;
}

export interface UnauthenticatedRefusalsOptions {
  windowSeconds: number;
  /** Addresses with an entry of their own per window. */
  maxAddresses?: number;
  logger?: Logger | undefined;
}

export class UnauthenticatedRefusals {
  /** Window start (ms) → address → counts. */
  private windows = new Map<number, Map<string, Bucket>>();
  private readonly windowMs: number;
  private readonly maxAddresses: number;
  private readonly periodic: Periodic;

  constructor(
    private readonly audit: AuditLog,
    private readonly options: UnauthenticatedRefusalsOptions,
  ) {
    this.windowMs = options.windowSeconds * 1000;
    this.maxAddresses = options.maxAddresses ?? 1000;
    this.periodic = new Periodic(
      () => this.flush(Date.now()),
      Math.min(1000, this.windowMs),
      (error) =>
        options.logger?.error({ err: error }, 'could not write the tally of unauthenticated refusals; retrying'),
    );
  }

  start(): void {
    this.periodic.start();
  }

  /** Counts one refusal of `route` (a method and route pattern) answered `status` to `address`. */
  count(address: string, route: string, status: number, now = Date.now()): void {
    const start = now - (now % this.windowMs);
    let window = this.windows.get(start);
    if (!window) this.windows.set(start, (window = new Map<string, Bucket>()));
    const key = window.has(address) || window.size < this.maxAddresses ? address : OTHER_ADDRESSES;
    let bucket = window.get(key);
    if (!bucket) window.set(key, (bucket = { count: 0, routes: new Map(), statuses: new Map() }));
    bucket.count++;
    const routeKey = bucket.routes.has(route) || bucket.routes.size < MAX_ROUTES ? route : 'other';
    bucket.routes.set(routeKey, (bucket.routes.get(routeKey) ?? 0) + 1);
    bucket.statuses.set(status, (bucket.statuses.get(status) ?? 0) + 1);
  }

  /**
   * Writes the windows closed by `now` (every window, the open one too, with `now` = Infinity). Entries
   * that could not be written go back, to be tried on the next pass.
   */
  async flush(now: number): Promise<void> {
    const closed = [...this.windows.entries()].filter(([start]) => start + this.windowMs <= now);
    for (const [start] of closed) this.windows.delete(start);
    const writes = closed.flatMap(([start, window]) =>
      [...window].map(([address, bucket]) => ({ start, address, bucket })),
    );
    const results = await Promise.allSettled(
      writes.map((w) => this.audit.record(this.entryOf(w.start, w.address, w.bucket))),
    );
    const failed = writes.filter((_, i) => results[i]!.status === 'rejected');
    for (const { start, address, bucket } of failed) {
      let window = this.windows.get(start);
      if (!window) this.windows.set(start, (window = new Map<string, Bucket>()));
      window.set(address, merge(window.get(address), bucket));
    }
    if (failed.length > 0) throw (results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason;
  }

  /** Stops the periodic flush and writes everything counted, the open window included. */
  async close(): Promise<void> {
    await this.periodic.stop();
    await this.flush(Infinity);
  }

  private entryOf(start: number, address: string, bucket: Bucket): AuditEntryInput {
    const routes = [...bucket.routes]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, TOP_ROUTES)
      .map(([route, count]) => ({ route, count }));
    const statuses = Object.fromEntries(
      [...bucket.statuses].sort((a, b) => a[0] - b[0]).map(([status, count]) => [String(status), count]),
    );
    return {
      accountId: SYSTEM_LOG,
      ctx: { actor: { type: 'anonymous', id: address }, authz: { method: 'none' } },
      action: REFUSALS_ACTION,
      target: { type: 'address', id: address },
      outcome: 'refused',
      details: {
        address,
        ...(address === OTHER_ADDRESSES ? { overflow: true } : {}),
        window_start: new Date(start).toISOString(),
        window_seconds: this.options.windowSeconds,
        count: bucket.count,
        routes,
        statuses,
      },
    };
  }
}

function merge(into: Bucket | undefined, from: Bucket): Bucket {
  if (!into) return from;
  into.count += from.count;
  for (const [route, count] of from.routes) into.routes.set(route, (into.routes.get(route) ?? 0) + count);
  for (const [status, count] of from.statuses) into.statuses.set(status, (into.statuses.get(status) ?? 0) + count);
  return into;
}
