/**
 * Crash test: a child process (two at once on PostgreSQL) streams suspend/reactivate calls and is killed
 * with SIGKILL at a random moment, ten times per backend. After each restart every acknowledged call is present with
 * its audit entry, no entry exists without its change (replaying the entries reproduces every user's state), and the
 * audit indexes are dense.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, describeBackends, openTestCore, type TestDatabase } from './support/backends.js';
import { seedAccount, testCtx } from './support/fixtures.js';
import { listAuditEntries } from '../src/store/audit.js';
import { findUserById } from '../src/store/users.js';
import { createUser } from '../src/directory/users.js';

interface Ack {
  call: number;
  userId: string;
  verb: 'suspend' | 'reactivate';
  outcome: 'changed' | 'unchanged' | 'refused';
}

/** Runs the worker until `killAfterMs` after its first acknowledgement, then SIGKILLs it. */
function runAndKill(env: Record<string, string>, args: string[], killAfterMs: number): Promise<Ack[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/crash-worker.ts', ...args], {
      env: { ...process.env, ...env, CORDON_LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acks: Ack[] = [];
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'ready') return;
      acks.push(JSON.parse(line) as Ack);
      if (acks.length === 1) setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(acks);
      else reject(new Error(`worker exited on its own (code ${code}): ${stderr}`));
    });
  });
}

describeBackends('crash safety', (backend) => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase(backend);
  });
  afterAll(() => database.drop());

  it('keeps every acknowledged call and its audit entry across 10 SIGKILLs', { timeout: 240_000 }, async () => {
    let core = await openTestCore(database);
    const seed = await seedAccount(core, 4);
    const extra = await createUser(core.directory, testCtx, seed.accountId, {
      email: 'x@test.example',
      display_name: 'X',
      role: 'OWNER',
    });
    // Members, an admin and two owners: owner suspensions exercise the account lock too.
    const userIds = [...seed.members.map((m) => m.id), seed.admin.id, seed.owner.id, extra.id];
    await core.close();

    // On PostgreSQL two worker processes, each with its own sequencer, share the database and the users.
    const workers = backend === 'postgres' ? 2 : 1;
    const acked: Ack[] = [];
    for (let round = 0; round < 10; round++) {
      const killAfterMs = 50 + Math.floor(Math.random() * 700);
      const rounds = await Promise.all(
        Array.from({ length: workers }, (_, w) =>
          runAndKill(database.env, [seed.accountId, String(round * 1_000_000 + w * 500_000), ...userIds], killAfterMs),
        ),
      );
      acked.push(...rounds.flat());

      core = await openTestCore(database);
      try {
        await core.audit.sequencer.drain();
        const entries = await listAuditEntries(core.database.db, {
          accountId: seed.accountId,
          includeUnsequenced: true,
        });
        // Dense: every entry numbered, 0..n-1.
        expect(entries.map((e) => e.idx)).toEqual(entries.map((_, i) => i));

        const byCall = new Map<number, (typeof entries)[number]>();
        for (const e of entries) {
          const call = (e.cause as { call?: number }).call;
          if (call !== undefined) byCall.set(call, e);
        }
        for (const ack of acked) {
          const entry = byCall.get(ack.call);
          expect(entry, `acknowledged call ${ack.call} has no audit entry`).toBeDefined();
          expect(entry).toMatchObject({ action: `user.${ack.verb}`, target_id: ack.userId, outcome: ack.outcome });
        }

        // No entry without its change, no change without its entry.
        for (const userId of userIds) {
          let state = 'ACTIVE';
          for (const e of entries.filter(
            (x) => x.target_id === userId && (x.action === 'user.suspend' || x.action === 'user.reactivate'),
          )) {
            if (e.outcome !== 'changed') continue;
            expect(e.details).toMatchObject({ from: state });
            state = (e.details as { to: string }).to;
          }
          expect((await findUserById(core.database.db, seed.accountId, userId))!.state).toBe(state);
        }
        const owners = await Promise.all(
          [seed.owner.id, extra.id].map((id) => findUserById(core.database.db, seed.accountId, id)),
        );
        expect(owners.some((o) => o!.state === 'ACTIVE')).toBe(true);
      } finally {
        await core.close();
      }
    }
    expect(acked.length).toBeGreaterThan(10);
  });
});
