/**
 * What the step tests share: a scripted in-memory target (a Connector whose answers the test queues: 429
 * with Retry-After, 500, a protected 403, a 404, a slow call) and an account with three targets, rows
 * inserted directly: `op` (onepassword, synced, the mirror holds m0 and m1), `sc` (scim, never synced) and
 * `gt` (gtr). The real connectors and servers are tested elsewhere; this is for the worker's logic.
 */
import { sql } from 'kysely';
import type { Core } from '../../src/core.js';
import { setBreakerCap } from '../../src/response/automation.js';
import { receiveSignal } from '../../src/response/engine.js';
import { applyPlaybooks } from '../../src/response/playbooks.js';
import { newId } from '../../src/ids.js';
import type { TargetKind } from '../../src/storage/schema.js';
import { seedAccount, testCtx, type SeededAccount } from './fixtures.js';
import { TargetError, type CallRecord, type Connector, type RemoteIdentity } from '../../src/targets/connector.js';
import { StepWorker } from '../../src/targets/worker.js';
import { callLogFor } from '../../src/targets/http.js';
import type { TargetRow } from '../../src/store/targets.js';

type Op = 'resolve' | 'read' | 'suspend' | 'reactivate';

/** One target's users and the faults queued for its next calls. */
export class FakeTarget {
  readonly users = new Map<string, { email: string; state: 'ACTIVE' | 'SUSPENDED' }>();
  readonly faults: Array<{ op: Op; error: TargetError | 'slow' }> = [];
  /** Calls made, by operation and external id ("suspend OP-1"). */
  readonly log: string[] = [];

  constructor(
    readonly kind: TargetKind,
    readonly verifiable = kind !== 'gtr',
  ) {}

  fail(op: Op, error: TargetError | 'slow'): void {
    this.faults.push({ op, error });
  }

  connector(): Connector {
    const calls: CallRecord[] = [];
    const call = async (op: Op, id: string) => {
      this.log.push(`${op} ${id}`);
      const at = this.faults.findIndex((f) => f.op === op);
      const fault = at >= 0 ? this.faults.splice(at, 1)[0]!.error : undefined;
      if (fault === 'slow') await new Promise((resolve) => setTimeout(resolve, 20));
      const log = callLogFor(calls);
      log.push({
        method: op === 'read' || op === 'resolve' ? 'GET' : 'POST',
        path: `/${op}/${id}`,
        status: 200,
        latency_ms: 1,
        request_id: null,
      });
      if (fault instanceof TargetError) {
        log.at(-1)!.status = fault.details.status;
        throw fault;
      }
    };
    const identity = (id: string): RemoteIdentity | null => {
      const u = this.users.get(id);
      return u ? { external_id: id, email: u.email, user_name: null, display_name: null, state: u.state } : null;
    };
    const set = async (op: Op, id: string, state: 'ACTIVE' | 'SUSPENDED') => {
      await call(op, id);
      if (this.kind === 'gtr') return;
      const u = this.users.get(id);
      if (!u) throw targetError('gone', 404);
      u.state = state;
    };
    return {
      kind: this.kind,
      verifiable: this.verifiable,
      resolve: async (hints) => {
        await call('resolve', hints.email ?? '');
        if (this.kind === 'gtr')
          return {
            external_id: hints.email!,
            email: hints.email!,
            user_name: null,
            display_name: null,
            state: 'UNKNOWN',
          };
        const found = [...this.users].find(([, u]) => u.email === hints.email);
        return found ? identity(found[0]) : null;
      },
      read: async (id) => {
        await call('read', id);
        return identity(id);
      },
      suspend: (id) => set('suspend', id, 'SUSPENDED'),
      reactivate: (id) => set('reactivate', id, 'ACTIVE'),
      list: () => Promise.reject(new Error('not scripted')),
      health: () => Promise.resolve({ ok: true, latency_ms: 0 }),
      close: () => Promise.resolve(),
      takeCalls: () => calls.splice(0),
    };
  }
}

export function targetError(cls: TargetError['details']['class'], status: number | null, retryAfterMs?: number) {
  return new TargetError(
    {
      class: cls,
      status,
      code: cls === 'protected' ? 'no_owner_remain' : null,
      message: `scripted ${status}`,
      request_id: 'req-1',
    },
    retryAfterMs,
  );
}

export interface StepWorld extends SeededAccount {
  targets: Record<'op' | 'sc' | 'gt', string>;
  fakes: Map<string, FakeTarget>;
  worker(owner?: string): StepWorker;
  /** Sends a signal about a user (by email); returns the plan. */
  signal(email: string): ReturnType<typeof receiveSignal>;
}

/** An account with the three targets, an auto suspend playbook over `targets`, and a worker factory. */
export async function stepWorld(core: Core, targets: 'all' | string[] = 'all', mode = 'auto'): Promise<StepWorld> {
  const seeded = await seedAccount(core, 4);
  const { accountId } = seeded;
  const ids = { op: newId(), sc: newId(), gt: newId() };
  const fakes = new Map<string, FakeTarget>();
  for (const [name, kind] of [
    ['op', 'onepassword'],
    ['sc', 'scim'],
    ['gt', 'gtr'],
  ] as const) {
    await sql`INSERT INTO targets (account_id, id, name, kind, config, credentials, created_by, last_sync_at)
      VALUES (${accountId}, ${ids[name]}, ${name}, ${kind}, '{}', 'sealed', '{}',
        ${name === 'op' ? sql`now()` : null})`.execute(core.database.db);
    fakes.set(ids[name], new FakeTarget(kind));
  }
  const [m0, m1, m2] = seeded.members;
  for (const [i, m] of [m0!, m1!].entries()) {
    await sql`INSERT INTO target_identities (account_id, target_id, external_id, email, state)
      VALUES (${accountId}, ${ids.op}, ${`OP-${i}`}, ${m.email}, 'ACTIVE')`.execute(core.database.db);
    fakes.get(ids.op)!.users.set(`OP-${i}`, { email: m.email, state: 'ACTIVE' });
  }
  for (const [i, m] of [m0!, m1!, m2!].entries())
    fakes.get(ids.sc)!.users.set(`SC-${i}`, { email: m.email, state: 'ACTIVE' });
  await setBreakerCap(core.response, testCtx, accountId, { max_actions: 10_000, window_seconds: 60 });
  await applyPlaybooks(core.response, testCtx, accountId, [
    { name: 'contain', match: { types: ['t'] }, action: 'suspend', mode, targets },
  ]);
  let n = 0;
  return {
    ...seeded,
    targets: ids,
    fakes,
    worker: (owner = 'node-a') =>
      new StepWorker({ db: core.database.db, audit: core.audit }, (t: TargetRow) => fakes.get(t.id)!.connector(), {
        intervalMs: 1000,
        leaseMs: 30_000,
        owner,
      }),
    signal: (email) =>
      receiveSignal(core.response, {
        accountId,
        sourceId: 'test',
        signal: {
          external_id: `s${n++}-${email}`,
          type: 't',
          title: 't',
          severity: 'high',
          confidence: 0.9,
          subject: { email },
          observed_time: new Date().toISOString(),
          tags: [],
        },
        rawText: '{}',
        ctx: testCtx,
      }),
  };
}
