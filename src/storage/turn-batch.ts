/**
 * Reads asked for during one turn of the event loop, answered by one query. The query is sent once
 * the turn's requests have been read (setImmediate runs after the poll phase), so every read starts
 * after the request that wanted it arrived and sees the database as it is then: nothing is cached, and
 * nobody joins a query already in flight. Under load this turns one round trip a request into one a
 * turn.
 */
interface Waiter<V> {
  resolve: (value: V | undefined) => void;
  reject: (error: unknown) => void;
}

export class TurnBatch<K, V> {
  private waiting = new Map<K, Waiter<V>[]>();

  /** `fetch` answers every key it knows; keys it leaves out resolve to undefined. */
  constructor(private readonly fetch: (keys: K[]) => Promise<Map<K, V>>) {}

  get(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      if (this.waiting.size === 0) setImmediate(() => void this.flush());
      const waiters = this.waiting.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else this.waiting.set(key, [{ resolve, reject }]);
    });
  }

  private async flush(): Promise<void> {
    const batch = this.waiting;
    this.waiting = new Map();
    try {
      const found = await this.fetch([...batch.keys()]);
      for (const [key, waiters] of batch) for (const w of waiters) w.resolve(found.get(key));
    } catch (error) {
      for (const waiters of batch.values()) for (const w of waiters) w.reject(error);
    }
  }
}
