/**
 * What the console shows, made the way production makes it: playbooks (one acting at once, one waiting
 * for approval), a SIEM source posting canonical alerts over real HTTP with its URL token, and members to
 * be their subjects. For the browser tests and the console benchmark.
 */
import { createSource } from '../../src/response/sources.js';
import { applyPlaybooks } from '../../src/response/playbooks.js';
import { createUser } from '../../src/directory/users.js';
import type { ConsoleSuite } from './console.js';
import { testCtx } from './fixtures.js';

export interface ConsoleWorld {
  /** POSTs an alert about `email` (type `review.*`: approval; `auto.*`: contained at once); the answer's JSON. */
  alert(email: string, type: string, title?: string): Promise<{ status: number; body: Record<string, unknown> }>;
  /** A member to contain, by email. */
  member(name: string): Promise<{ id: string; email: string }>;
}

export async function openConsoleWorld(suite: Pick<ConsoleSuite, 'core' | 'accountId' | 'url'>): Promise<ConsoleWorld> {
  const { core, accountId } = suite;
  await applyPlaybooks(core.response, testCtx, accountId, [
    { name: 'review-first', priority: 10, match: { types: ['review.*'] }, action: 'suspend', mode: 'approval' },
    { name: 'contain-now', priority: 10, match: { types: ['auto.*'] }, action: 'suspend', mode: 'auto' },
  ]);
  const { source, secret } = await createSource(core.response, testCtx, accountId, {
    name: 'siem',
    format: 'canonical',
    auth: 'url_token',
  });
  let n = 0;
  return {
    async alert(email, type, title = 'Impossible travel') {
      const response = await fetch(
        `${suite.url}/v1/accounts/${accountId}/sources/${source.id}/signals?token=${secret!}`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            external_id: `alert-${Date.now()}-${++n}`,
            type,
            title,
            severity: 'high',
            confidence: 0.9,
            subject: { email },
          }),
        },
      );
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    },
    async member(name) {
      const user = await createUser(core.directory, testCtx, accountId, {
        email: `${name}@test.example`,
        display_name: name,
        role: 'MEMBER',
      });
      return { id: user.id, email: user.email };
    },
  };
}
