import { describe, expect, it } from 'vitest';
import { scriptedDatabase } from '../../test/support/scripted-db.js';
import { isAppError } from '../errors.js';
import type { AuditEntryValues } from '../store/audit.js';
import { GroupCommit } from './group-commit.js';

const row = (i: number): AuditEntryValues => ({
  account_id: 'A',
  actor_type: 'system',
  actor_id: 'test',
  action: 'user.read',
  target_type: 'user',
  target_id: `U${i}`,
  cause: '{}',
  authz: '{}',
  outcome: 'read',
  details: '{}',
});

describe('group commit', () => {
  it(
    'holds at most maxQueue records while the database ' + 'does not answer, and answers the rest 503 at once',
    async () => {
      // A database that takes every INSERT and never answers: a PostgreSQL that went away mid-write.
      const inserts: unknown[] = [];
      const db = scriptedDatabase((query) => {
        inserts.push(query);
        return new Promise(() => undefined);
      });
      const commit = new GroupCommit(db, { maxBatch: 2, concurrency: 1, maxQueue: 3 });
      const settle = (p: Promise<void>) =>
        p.then(
          () => 'written',
          (error: unknown) =>
            isAppError(error) ? `${error.code} ${error.httpStatus} ${error.headers?.['retry-after']}` : String(error),
        );
      const outcomes: string[] = [];
      for (let i = 0; i < 8; i++) void settle(commit.append(row(i))).then((outcome) => (outcomes[i] = outcome));
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setImmediate(resolve));
      // Three wait; the five past the bound are answered at once, the three never (the database holds them).
      expect(outcomes).toEqual([undefined, undefined, undefined, ...Array(5).fill('UNAVAILABLE 503 1')]);
      // One batch (two records) went out and is stuck: the queue has room for two more, not for a third.
      expect(inserts).toHaveLength(1);
      const later = [commit.append(row(8)), commit.append(row(9)), commit.append(row(10))].map(settle);
      expect(await later[2]).toBe('UNAVAILABLE 503 1');
    },
  );

  it(
    'rejects every record of a batch whose connection ' + 'broke, and writes later ones once the database is back',
    async () => {
      let away = true;
      const written: unknown[] = [];
      const db = scriptedDatabase(async (query) => {
        if (away) throw new Error('Connection terminated unexpectedly');
        written.push(query.parameters);
        return { rows: [] };
      });
      const commit = new GroupCommit(db, { maxBatch: 10, concurrency: 1, maxQueue: 100 });
      const failed = await Promise.allSettled([commit.append(row(1)), commit.append(row(2))]);
      expect(failed.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'written'))).toEqual([
        'Connection terminated unexpectedly',
        'Connection terminated unexpectedly',
      ]);
      away = false;
      await Promise.all([commit.append(row(3)), commit.append(row(4))]);
      expect(written).toHaveLength(1);
      expect(JSON.stringify(written[0])).toContain('U3');
      expect(JSON.stringify(written[0])).toContain('U4');
    },
  );
});
