/**
 * Reading back what the Cordon under test recorded about its targets (design16.md "Steps", "Views"):
 * its containment views with their steps, its `target.attempt` / `target.step` entries per step, and
 * whether its log verifies. The targets' own side is read by the harness (Peer.changes, ScimTarget.states).
 */
import type { AuditRecord } from '../../src/storage/schema.js';
import { listAuditEntries } from '../../src/store/audit.js';
import { runCli } from './cli.js';
import type { ProcessNode } from './targets-harness.js';
import { waitFor, type Sut } from './targets-harness-sut.js';

export interface StepView {
  id: string;
  target_id: string;
  target_name: string;
  kind: string;
  operation: 'suspend' | 'reactivate';
  status: string;
  external_id: string | null;
  attempts: number;
  observed_state: string | null;
  drift: Record<string, unknown> | null;
  last_error: Record<string, unknown> | null;
}

export interface ContainmentView {
  id: string;
  user_id: string;
  plan_id: string | null;
  status: 'open' | 'closed';
  locked: boolean;
  targets_state: string | null;
  steps: StepView[];
}

/** Every containment record of the account (newest first), through the route. */
export async function containments(sut: Sut, status?: 'open' | 'closed'): Promise<ContainmentView[]> {
  const reply = await sut.api('GET', `/containments?max_page_size=1000${status ? `&status=${status}` : ''}`);
  if (reply.status !== 200) throw new Error(`containments: ${reply.status} ${JSON.stringify(reply.body)}`);
  return (reply.body as { containments: ContainmentView[] }).containments;
}

/** Waits until `n` records exist and each one's targets_state is final per `done`; returns them. */
export function waitForRecords(
  sut: Sut,
  n: number,
  ms: number,
  done: (c: ContainmentView) => boolean = (c) => c.targets_state === 'contained',
): Promise<ContainmentView[]> {
  let last = '';
  return waitFor(
    () => `${n} records settled (last seen: ${last})`,
    ms,
    async () => {
      if (sut.nodes.length === 0) return undefined;
      const all = await containments(sut).catch(() => []);
      const states: Record<string, number> = {};
      for (const c of all) states[c.targets_state ?? 'null'] = (states[c.targets_state ?? 'null'] ?? 0) + 1;
      last = JSON.stringify(states);
      return all.length === n && all.every(done) ? all : undefined;
    },
    500,
  );
}

/** Waits until one record's targets_state is one of `states` (60 s); returns the record. */
export async function waitForRecord(sut: Sut, id: string, states: string[], ms = 60_000): Promise<ContainmentView> {
  let last: unknown;
  return waitFor(
    () => `containment ${id} in ${states.join('|')} (last seen: ${JSON.stringify(last)})`,
    ms,
    async () => {
      const reply = await sut.api<ContainmentView>('GET', `/containments/${id}`);
      last = reply.body;
      return reply.status === 200 && states.includes(reply.body.targets_state ?? '') ? reply.body : undefined;
    },
  );
}

export interface AttemptDetails {
  target_id: string;
  target_name: string;
  kind: string;
  operation: string;
  attempt: number;
  external_id: string | null;
  calls: Array<{ method: string; path: string; status: number | null; request_id: string | null }>;
  outcome: string;
  error: { status?: number | null; code?: string | null; message?: string } | null;
  observed_state: string | null;
}

/** The Cordon's own entries (numbered and waiting) of the account, oldest first. */
export async function sutAudit(sut: Sut, action?: string): Promise<AuditRecord[]> {
  const all = await listAuditEntries(sut.database.db(), { accountId: sut.accountId, includeUnsequenced: true });
  return action ? all.filter((e) => e.action === action) : all;
}

/** Per step id: its `target.attempt` entries' details (in log order) and its `target.step` entries. */
export async function attemptsByStep(
  sut: Sut,
): Promise<Map<string, { attempts: AttemptDetails[]; finals: AuditRecord[]; indexes: Array<number | null> }>> {
  const out = new Map<string, { attempts: AttemptDetails[]; finals: AuditRecord[]; indexes: Array<number | null> }>();
  const of = (id: string) => {
    let entry = out.get(id);
    if (!entry) out.set(id, (entry = { attempts: [], finals: [], indexes: [] }));
    return entry;
  };
  for (const e of await sutAudit(sut)) {
    if (e.action === 'target.attempt') {
      of(e.target_id).attempts.push(e.details as unknown as AttemptDetails);
      of(e.target_id).indexes.push(e.idx);
    }
    if (e.action === 'target.step') of(e.target_id).finals.push(e);
  }
  return out;
}

/** `cordon audit verify --json` on the live log, in process (no saved session: the local operator). */
export async function verifyLog(sut: Sut): Promise<{ code: number | null; report: { ok?: boolean }; stderr: string }> {
  // Everything sequenced first: the verifier reads the numbered log.
  await waitFor('the audit inbox to drain', 60_000, async () => {
    const row = await sut.database
      .db()
      .selectFrom('audit_inbox')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('account_id', '=', sut.accountId)
      .executeTakeFirstOrThrow();
    return Number(row.n) === 0;
  });
  const res = await runCli(['audit', 'verify', '--json', '--account', sut.accountId], sut.cliEnv);
  let report: { ok?: boolean } = {};
  try {
    report = JSON.parse(res.stdout) as { ok?: boolean };
  } catch {
    // left empty: the assertion on the report shows the output
  }
  return { code: res.code, report, stderr: res.stderr };
}

/**
 * The Cordon under test's settings in the targets suites: a fast step worker and short leases (so that a
 * SIGKILLed node's claims come back in seconds; a lease stays well over one attempt's calls), the breaker
 * and the restore worker out of the way.
 */
export const TARGET_TEST_ENV: Record<string, string> = {
  CORDON_TARGET_WORKER_INTERVAL_MS: '200',
  CORDON_TARGET_LEASE_MS: '8000',
  CORDON_BREAKER_MAX_ACTIONS: '10000',
  CORDON_RESTORE_WORKER_INTERVAL_MS: '600000',
};

/**
 * Submits a signal until a node accepts it (200), resubmitting the same external id when a kill cut the
 * call off or no node runs for a moment: what a SIEM's retry does. Returns the accepted answer.
 */
export async function submitUntilAccepted(
  sut: Sut,
  email: string,
  type: string,
  externalId: string,
  node?: ProcessNode,
) {
  return waitFor(
    `signal ${externalId} accepted`,
    120_000,
    async () => {
      try {
        const reply = await sut.signal(email, type, externalId, node);
        if (reply.status === 200) return reply;
        if (reply.status !== 0 && reply.status < 500)
          throw new Error(`signal: ${reply.status} ${JSON.stringify(reply.body)}`);
      } catch (error) {
        if (!/no Cordon node|fetch failed|ECONNREFUSED|Unexpected end|JSON/.test((error as Error).message)) throw error;
      }
      return undefined;
    },
    300,
  );
}
