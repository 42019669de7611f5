/**
 * The client-authenticated endpoints' app lookup. Lookups asked for during one turn of the event loop
 * share one query (`client_id = ANY(...)`), sent once that turn's requests have been read (setImmediate
 * runs after the poll phase). Each lookup thus starts after its request arrived and reads the row as it
 * is then: a disabled app or a rotated secret counts from the very next request, on every node. Nothing
 * is cached and no caller joins a query already in flight.
 */
import type { OAuthApp } from '../storage/schema.js';
import { findAppsByClientIds } from '../store/apps.js';
import type { Executor } from '../store/executor.js';

interface Waiter {
  resolve: (app: OAuthApp | undefined) => void;
  reject: (error: unknown) => void;
}

export class AppLookup {
  private waiting = new Map<string, Waiter[]>();

  constructor(private readonly db: Executor) {}

  findByClientId(clientId: string): Promise<OAuthApp | undefined> {
    return new Promise((resolve, reject) => {
      if (this.waiting.size === 0) setImmediate(() => void this.flush());
      const waiters = this.waiting.get(clientId);
      if (waiters) waiters.push({ resolve, reject });
      else this.waiting.set(clientId, [{ resolve, reject }]);
    });
  }

  private async flush(): Promise<void> {
    const batch = this.waiting;
    this.waiting = new Map();
    try {
      const apps = new Map((await findAppsByClientIds(this.db, [...batch.keys()])).map((app) => [app.client_id, app]));
      for (const [clientId, waiters] of batch) for (const w of waiters) w.resolve(apps.get(clientId));
    } catch (error) {
      for (const waiters of batch.values()) for (const w of waiters) w.reject(error);
    }
  }
}
