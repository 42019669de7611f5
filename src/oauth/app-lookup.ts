/**
 * The client-authenticated endpoints' app lookup: lookups of one event-loop turn share one query (see
 * TurnBatch), so a disabled app or a rotated secret counts from the very next request, on every node.
 */
import type { OAuthApp } from '../storage/schema.js';
import { TurnBatch } from '../storage/turn-batch.js';
import { findAppsByClientIds } from '../store/apps.js';
import type { Executor } from '../store/executor.js';

export class AppLookup {
  private readonly batch: TurnBatch<string, OAuthApp>;

  constructor(db: Executor) {
    this.batch = new TurnBatch(
      async (clientIds) => new Map((await findAppsByClientIds(db, clientIds)).map((app) => [app.client_id, app])),
    );
  }

  findByClientId(clientId: string): Promise<OAuthApp | undefined> {
    return this.batch.get(clientId);
  }
}
