/**
 * Model-based properties of approvals and restores (fast-check commands): signals that open plans
 * needing one or two people, approve and deny (by anyone, with the right digest or not), expire (seen by
 * the next decision or by the expiry job), execute, restore (under restore policy 0, 1 or 2), playbook
 * changes (their pending plans go void), approver-group changes, and two operations at once (two people
 * on one plan or containment, a suspension beside a restore of the same subject). A model written here
 * from the rules, not from the code, predicts every outcome (which refusal, which status). After every
 * command the database must equal the model (plan statuses, each plan's decisions, user states,
 * containments), and these must hold whatever the commands:
 *
 * 1. an executed plan has at least approvals_required approvals, from distinct people, none of them the
 *    subject, none the requester (but a restore's requester, whose request is its first approval), each
 *    bound to the plan's action_digest;
 * 2. the responder's executing entry names that digest and exactly those approvals, and acts on the
 *    plan's subject (or its containment); a suspended subject is held by one open containment;
 * 3. one decision per person per plan, and only on the run's own plans; a plan that is not executed
 *    (pending, denied, expired, void …) never acted and opened nothing; no plan acted twice; each
 *    ending (deny, expire, void) is audited once;
 * 4. every suspension and reactivation of a subject is an executed plan's whose approvals were complete
 *    when it acted.
 *
 * Two operations at once must give the outcome of one serial order or the other (except the one known
 * race below). One database and core per backend; every run has its own people, playbooks and signals.
 */
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Core } from '../core.js';
import type { CallContext } from '../audit/entry.js';
import { createAccount } from '../directory/accounts.js';
import { addMember, createGroup, removeMember } from '../directory/groups.js';
import { insertUsersWithGroups } from '../directory/users.js';
import { isAppError } from '../errors.js';
import type { UserRole } from '../storage/schema.js';
import { createTestDatabase, describeBackends, openTestCore, type TestDatabase } from '../../test/support/backends.js';
import { auditTrail, testCtx } from '../../test/support/fixtures.js';
import { decidePlan } from './approvals.js';
import type { Approver } from './approvers.js';
import { receiveSignal } from './engine.js';
import { applyPlaybooks } from './playbooks.js';
import { requestRestore, setRestorePolicy, type RestoreReason } from './restores.js';

// ---------------------------------------------------------------------------------------------------
// The people of a run, by index.
const OWNER = 0;
const ADMIN_1 = 1;
const ADMIN_2 = 2;
const GROUP_MEMBER = 3; // a MEMBER in the approver group (at first)
const PLAIN = 4; // a MEMBER outside it (at first)
const SUBJECT_A = 5;
const SUBJECT_B = 6;
const SUBJECTS = [SUBJECT_A, SUBJECT_B] as const;
const NAMES = ['owner', 'admin1', 'admin2', 'groupMember', 'plain', 'subjectA', 'subjectB'];
const ROLES: UserRole[] = ['OWNER', 'ADMIN', 'ADMIN', 'MEMBER', 'MEMBER', 'MEMBER', 'MEMBER'];

type Pb = 'one' | 'two';
const REQUIRED: Record<Pb, number> = { one: 1, two: 2 };
const ZEROS = '0'.repeat(64);
const APP_CTX: CallContext = {
  actor: { type: 'app', id: 'siem' },
  authz: { method: 'client_credentials', client_id: 'siem' },
};

// ---------------------------------------------------------------------------------------------------
// The model.
interface MPerson {
  role: UserRole;
  inGroup: boolean;
  state: 'ACTIVE' | 'SUSPENDED';
}
interface MDecision {
  person: number;
  decision: 'approve' | 'deny';
}
interface MPlan {
  id: string;
  kind: 'suspend' | 'restore';
  subject: number;
  playbook: Pb | null;
  /** The playbook version the plan was made under (suspensions). */
  version: number;
  /** Index into containments (restores). */
  containment: number | null;
  required: number;
  digest: string | null;
  /** A person who asked (restores); a suspension is asked for by the detector app. */
  requester: number | null;
  status: string;
  /** Its expires_at was moved into the past. */
  timeUp: boolean;
  decisions: MDecision[];
}
interface MContainment {
  id: string | null;
  subject: number;
  /** Index of the suspension plan that opened it. */
  plan: number;
  open: boolean;
}
interface Model {
  people: MPerson[];
  plans: MPlan[];
  containments: MContainment[];
  playbooks: Record<Pb, { version: number; enabled: boolean; edits: number }>;
  restorePolicy: number;
}

interface Real {
  run: number;
  /** User ids by person index. */
  ids: string[];
  signals: number;
}

type Outcome = { ok: true; status: string } | { ok: false; code: string; reason?: string | undefined };
const ok = (status: string): Outcome => ({ ok: true, status });
const refused = (code: string, reason?: string): Outcome => ({ ok: false, code, ...(reason ? { reason } : {}) });
const show = (o: Outcome) => (o.ok ? `ok:${o.status}` : `${o.code}${o.reason ? `(${o.reason})` : ''}`);

type DigestChoice = 'right' | 'zeros' | 'other';
interface DecideSpec {
  kind: 'decide';
  person: number;
  plan: number;
  decision: 'approve' | 'deny';
  digest: DigestChoice;
}
interface RestoreSpec {
  kind: 'restore';
  person: number;
  containment: number;
  reason: RestoreReason;
}
type Spec = DecideSpec | RestoreSpec;
type Resolved =
  | { kind: 'decide'; person: number; plan: number; decision: 'approve' | 'deny'; digest: string }
  | { kind: 'restore'; person: number; containment: number; reason: RestoreReason };

/** A pick among the pending plans (mostly) or all of them (or `among` those given). */
function resolve(m: Model, spec: Spec, among?: number[]): Resolved {
  if (spec.kind === 'decide') {
    const all = m.plans.map((_, i) => i);
    const pending = all.filter((i) => m.plans[i]!.status === 'pending_approval');
    const pool = among && among.length > 0 ? among : spec.plan % 4 !== 0 && pending.length > 0 ? pending : all;
    const plan = pool[Math.floor(spec.plan / 4) % pool.length]!;
    const own = m.plans[plan]!.digest ?? ZEROS;
    const other = m.plans.find((p) => p.digest !== null && p.digest !== own)?.digest ?? 'f'.repeat(64);
    return {
      kind: 'decide',
      person: spec.person,
      plan,
      decision: spec.decision,
      digest: spec.digest === 'right' ? own : spec.digest === 'zeros' ? ZEROS : other,
    };
  }
  const all = m.containments.map((_, i) => i);
  const open = all.filter((i) => m.containments[i]!.open);
  const pool = among && among.length > 0 ? among : spec.containment % 4 !== 0 && open.length > 0 ? open : all;
  return {
    kind: 'restore',
    person: spec.person,
    containment: pool[Math.floor(spec.containment / 4) % pool.length]!,
    reason: spec.reason,
  };
}

const describeResolved = (r: Resolved) =>
  r.kind === 'decide'
    ? `${NAMES[r.person]} ${r.decision}s plan#${r.plan} (${r.digest === ZEROS ? 'zero digest' : r.digest.slice(0, 8)})`
    : `${NAMES[r.person]} asks to restore containment#${r.containment} (${r.reason})`;

/** Why a person may not decide a plan about `subject` asked for by `requester`; undefined: they may. */
function mayNotDecide(m: Model, person: number, subject: number, requester: number | null): string | undefined {
  if (person === subject) return 'subject';
  if (person === requester) return 'requester';
  const p = m.people[person]!;
  if (p.role === 'OWNER' || p.role === 'ADMIN' || p.inGroup) return undefined;
  return 'role';
}

/** What a plan stands on has changed since it was made. */
function lapsed(m: Model, plan: MPlan): boolean {
  if (plan.kind === 'restore') return !m.containments[plan.containment!]!.open;
  const pb = m.playbooks[plan.playbook!];
  return !pb.enabled || pb.version !== plan.version;
}

/** A restore takes effect: the subject is active, the record closed, pending suspensions of the subject void. */
function restoreEffects(m: Model, c: MContainment): void {
  c.open = false;
  m.people[c.subject]!.state = 'ACTIVE';
  for (const p of m.plans)
    if (p.kind === 'suspend' && p.subject === c.subject && p.status === 'pending_approval') p.status = 'void';
}

/** The model's outcome of one operation; mutates the model. `created` is the index of a restore plan it made. */
function apply(m: Model, r: Resolved): { outcome: Outcome; created?: number } {
  if (r.kind === 'restore') {
    const c = m.containments[r.containment]!;
    if (!c.open) return { outcome: refused('CONTAINMENT_CLOSED') };
    const why = mayNotDecide(m, r.person, c.subject, null);
    if (why) return { outcome: refused('NOT_AN_APPROVER', why) };
    const plan: MPlan = {
      id: '',
      kind: 'restore',
      subject: c.subject,
      playbook: null,
      version: 0,
      containment: r.containment,
      required: m.restorePolicy,
      digest: null,
      requester: r.person,
      status: 'pending_approval',
      timeUp: false,
      decisions: [{ person: r.person, decision: 'approve' }],
    };
    const created = m.plans.push(plan) - 1;
    if (1 < plan.required) return { outcome: ok('pending_approval'), created };
    restoreEffects(m, c);
    plan.status = 'executed';
    return { outcome: ok('restored'), created };
  }
  const plan = m.plans[r.plan]!;
  if (plan.status !== 'pending_approval') return { outcome: refused('PLAN_NOT_PENDING') };
  if (plan.timeUp) {
    plan.status = 'expired';
    return { outcome: refused('PLAN_EXPIRED') };
  }
  if (lapsed(m, plan)) {
    plan.status = 'void';
    return { outcome: refused('PLAN_VOID') };
  }
  const why = mayNotDecide(m, r.person, plan.subject, plan.requester);
  if (why) return { outcome: refused('NOT_AN_APPROVER', why) };
  if (r.digest !== plan.digest) return { outcome: refused('DIGEST_MISMATCH') };
  if (plan.decisions.some((d) => d.person === r.person))
    return { outcome: refused('NOT_AN_APPROVER', 'already_decided') };
  plan.decisions.push({ person: r.person, decision: r.decision });
  if (r.decision === 'deny') {
    plan.status = 'denied';
    return { outcome: ok('denied') };
  }
  if (plan.decisions.filter((d) => d.decision === 'approve').length < plan.required)
    return { outcome: ok('pending_approval') };
  if (plan.kind === 'restore') {
    restoreEffects(m, m.containments[plan.containment!]!);
    plan.status = 'executed';
  } else if (m.people[plan.subject]!.state === 'SUSPENDED') {
    plan.status = 'no_action';
  } else {
    m.people[plan.subject]!.state = 'SUSPENDED';
    m.containments.push({ id: null, subject: plan.subject, plan: r.plan, open: true });
    plan.status = 'executed';
  }
  return { outcome: ok(plan.status) };
}

const sameOutcome = (a: Outcome, b: Outcome) => show(a) === show(b);

// ---------------------------------------------------------------------------------------------------

describeBackends('approvals and restores, model-based', (backend) => {
  let database: TestDatabase;
  let core: Core;
  let accountId: string;
  let ownerId: string;
  let groupId: string;
  let runs = 0;
  let last: { model: Model; real: Real } | undefined;

  beforeAll(async () => {
    database = await createTestDatabase(backend);
    // The worker runs only when a command calls its pass().
    core = await openTestCore(database, { CORDON_RESTORE_WORKER_INTERVAL_MS: '600000' });
    const { account, owner } = await createAccount(core.directory, testCtx, {
      name: 'Approvals',
      owner: { email: 'owner@approvals.example', display_name: 'Owner' },
    });
    accountId = account.id;
    ownerId = owner.id;
    groupId = (await createGroup(core.directory, testCtx, accountId, 'Approvers')).id;
  });
  afterAll(async () => {
    await core?.close();
    await database?.drop();
  });

  const db = () => core.database.db;

  const approver = (m: Model, real: Real, person: number): Approver => {
    const userId = real.ids[person]!;
    const sessionId = `sess-${real.run}-${person}`;
    return {
      userId,
      role: m.people[person]!.role,
      sessionId,
      ctx: { actor: { type: 'user', id: userId }, authz: { method: 'session', session_id: sessionId } },
    };
  };

  const playbookDoc = (real: Real, pb: Pb, state: { enabled: boolean; edits: number }) => ({
    name: `r${real.run}-${pb}`,
    description: `edit ${state.edits}`,
    enabled: state.enabled,
    priority: 10,
    match: { types: [`r${real.run}.${pb}`] },
    action: 'suspend',
    mode: 'approval',
    approvals: REQUIRED[pb],
  });

  const appError = (error: unknown): Outcome => {
    if ((error as { code?: unknown }).code === '40P01') return refused('DEADLOCK');
    if (!isAppError(error)) throw error;
    return refused(error.code, error.code === 'NOT_AN_APPROVER' ? error.metadata?.reason : undefined);
  };

  /** The real operation, its arguments taken from the model before the model moves. */
  const prepare = (
    m: Model,
    real: Real,
    r: Resolved,
  ): (() => Promise<{ outcome: Outcome; planId?: string; digest?: string | null }>) => {
    const who = approver(m, real, r.person);
    if (r.kind === 'restore') {
      const containmentId = m.containments[r.containment]!.id!;
      return () =>
        requestRestore(core.response, who, accountId, containmentId, r.reason).then(
          (res) => ({ outcome: ok(res.status), planId: res.plan.id, digest: res.plan.action_digest }),
          (error: unknown) => ({ outcome: appError(error) }),
        );
    }
    const planId = m.plans[r.plan]!.id;
    return () =>
      decidePlan(core.response, who, accountId, planId, {
        decision: r.decision,
        reason: `model ${r.decision}`,
        actionDigest: r.digest,
      }).then(
        (res) => ({ outcome: ok(res.plan.status) }),
        (error: unknown) => ({ outcome: appError(error) }),
      );
  };

  /** Fills the ids the model learns from the system: restore plans made, containments opened. */
  const learn = async (m: Model, created: number | undefined, real: { planId?: string; digest?: string | null }) => {
    if (created !== undefined) {
      expect(real.planId).toBeDefined();
      m.plans[created]!.id = real.planId!;
      m.plans[created]!.digest = real.digest ?? null;
    }
    for (const c of m.containments) {
      if (c.id !== null) continue;
      const row = await db()
        .selectFrom('containments')
        .select('id')
        .where('account_id', '=', accountId)
        .where('plan_id', '=', m.plans[c.plan]!.id)
        .executeTakeFirst();
      expect(row, `the containment of plan#${c.plan}`).toBeDefined();
      c.id = row!.id;
    }
  };

  /** One operation, alone. */
  const step = (m: Model, real: Real, spec: Spec) => perform(m, real, resolve(m, spec));
  const perform = async (m: Model, real: Real, r: Resolved) => {
    const actual = await prepare(m, real, r)();
    const predicted = apply(m, r);
    expect(show(actual.outcome), describeResolved(r)).toBe(show(predicted.outcome));
    await learn(m, predicted.created, actual);
  };

  /** A signal about a subject that one of the run's playbooks matches. */
  const signal = async (m: Model, real: Real, subject: number, pb: Pb) => {
    const state = m.playbooks[pb];
    const name = `r${real.run}-${pb}`;
    const { plan } = await receiveSignal(core.response, {
      accountId,
      sourceId: 'model',
      signal: {
        external_id: `r${real.run}-${++real.signals}`,
        type: `r${real.run}.${pb}`,
        title: 'model alert',
        severity: 'high',
        confidence: 0.9,
        subject: { user_id: real.ids[subject]! },
        observed_time: new Date().toISOString(),
        tags: [],
      },
      rawText: '{}',
      ctx: APP_CTX,
    });
    // Dedup: one open (pending or executed) plan per subject and playbook within its window (1h).
    const open = m.plans.some(
      (p) =>
        p.kind === 'suspend' &&
        p.subject === subject &&
        p.playbook === pb &&
        (p.status === 'pending_approval' || p.status === 'executed'),
    );
    const status = !state.enabled ? 'no_action' : open ? 'duplicate' : 'pending_approval';
    expect(plan!.status, `signal about ${NAMES[subject]} for ${name}`).toBe(status);
    if (status === 'pending_approval') {
      expect(plan).toMatchObject({
        approvals_required: REQUIRED[pb],
        playbook_name: name,
        playbook_version: state.version,
        subject_user_id: real.ids[subject],
      });
      expect(plan!.action_digest).toMatch(/^[0-9a-f]{64}$/);
    }
    m.plans.push({
      id: plan!.id,
      kind: 'suspend',
      subject,
      playbook: pb,
      version: state.version,
      containment: null,
      required: REQUIRED[pb],
      digest: plan!.action_digest,
      requester: null,
      status,
      timeUp: false,
      decisions: [],
    });
  };

  // -------------------------------------------------------------------------------------------------
  // What the database says, and what must hold.

  interface Snapshot {
    plans: Array<{
      id: string;
      action: string;
      status: string;
      subject_user_id: string;
      approvals_required: number;
      action_digest: string | null;
      requested_by: { type: string; id: string } | null;
      containment_id: string | null;
      restore_reason: string | null;
      executed_at: string | null;
    }>;
    /** The decisions on the run's plans, and any decision by the run's people (owner aside). */
    decisions: Array<{
      plan_id: string;
      approver_id: string;
      decision: string;
      reason: string;
      action_digest: string;
      created_at: string;
    }>;
    users: Array<{ id: string; state: string }>;
    containments: Array<{
      id: string;
      user_id: string;
      plan_id: string | null;
      status: string;
      close_reason: string | null;
    }>;
    entries: Array<{
      action: string;
      actor_type: string;
      target_id: string;
      authz: Record<string, unknown>;
      cause: Record<string, unknown>;
      recorded_at: string;
    }>;
  }

  /** Everything about a run, in one statement (one snapshot). */
  const snapshot = async (real: Real): Promise<Snapshot> => {
    await core.audit.settle();
    const subjects = sql.join(SUBJECTS.map((i) => real.ids[i]!));
    const people = sql.join(real.ids.slice(1));
    const plans = sql`SELECT id FROM plans WHERE account_id = ${accountId} AND subject_user_id IN (${subjects})`;
    const records = sql`SELECT id FROM containments WHERE account_id = ${accountId} AND user_id IN (${subjects})`;
    const cols = sql`action, actor_type, target_id, authz, cause, recorded_at`;
    const where = sql`account_id = ${accountId} AND (target_id IN (${subjects}) OR target_id IN (${plans})
        OR target_id IN (${records}) OR authz->>'plan_id' IN (${plans}))`;
    const { rows } = await sql<Snapshot>`SELECT
      (SELECT coalesce(json_agg(p), '[]') FROM plans p WHERE account_id = ${accountId}
        AND subject_user_id IN (${subjects})) AS plans,
      (SELECT coalesce(json_agg(d), '[]') FROM plan_approvals d WHERE account_id = ${accountId}
        AND (plan_id IN (${plans}) OR approver_id IN (${people}))) AS decisions,
      (SELECT json_agg(json_build_object('id', id, 'state', state)) FROM users WHERE account_id = ${accountId}
        AND id IN (${sql.join(real.ids)})) AS users,
      (SELECT coalesce(json_agg(c), '[]') FROM containments c WHERE account_id = ${accountId}
        AND user_id IN (${subjects})) AS containments,
      (SELECT coalesce(json_agg(e), '[]') FROM (SELECT ${cols} FROM audit_entries WHERE ${where}
        UNION ALL SELECT ${cols} FROM audit_inbox WHERE ${where}) e) AS entries`.execute(db());
    return rows[0]!;
  };

  const ACTS = ['user.suspend', 'user.reactivate', 'containment.restore'];
  const time = (t: string | Date) => new Date(t).getTime();
  const sorted = (xs: string[]) => [...xs].sort().join(',');

  const verify = async (m: Model, real: Real, label: string, full = false) => {
    const { plans, decisions, users, containments, entries } = await snapshot(real);
    const subjectIds = SUBJECTS.map((i) => real.ids[i]!);
    const name = (id: string) => NAMES[real.ids.indexOf(id)] ?? id;
    const stateOf = (userId: string) => users.find((u) => u.id === userId)!.state;
    const bad: string[] = [];
    const must = (holds: boolean, what: string) => {
      if (!holds) bad.push(what);
    };

    // The database is the model.
    must(plans.length === m.plans.length, `${plans.length} plans, the model has ${m.plans.length}`);
    for (const [i, mp] of m.plans.entries()) {
      const dp = plans.find((p) => p.id === mp.id);
      must(dp?.status === mp.status, `plan#${i} is ${dp?.status}, the model says ${mp.status}`);
      const rows = sorted(
        decisions.filter((d) => d.plan_id === mp.id).map((d) => `${name(d.approver_id)}:${d.decision}`),
      );
      const model = sorted(mp.decisions.map((d) => `${NAMES[d.person]}:${d.decision}`));
      must(rows === model, `plan#${i} has decisions [${rows}], the model says [${model}]`);
    }
    for (const [i, person] of m.people.entries())
      must(
        stateOf(real.ids[i]!) === person.state,
        `${NAMES[i]} is ${stateOf(real.ids[i]!)}, the model says ${person.state}`,
      );
    must(
      containments.length === m.containments.length,
      `${containments.length} containments, the model has ${m.containments.length}`,
    );
    for (const [i, mc] of m.containments.entries()) {
      const status = containments.find((c) => c.id === mc.id)?.status;
      must(
        status === (mc.open ? 'open' : 'closed'),
        `containment#${i} is ${status}, the model says ${mc.open ? 'open' : 'closed'}`,
      );
    }

    // The rules, from the database alone.
    const planIds = plans.map((p) => p.id);
    for (const d of decisions)
      must(planIds.includes(d.plan_id), `${name(d.approver_id)} decided plan ${d.plan_id}, not one of this run`);
    const acts = (planId: string) => entries.filter((e) => ACTS.includes(e.action) && e.authz.plan_id === planId);
    const endings = (planId: string, action: string) =>
      entries.filter((e) => e.action === action && e.target_id === planId).length;
    for (const p of plans) {
      const what = `plan ${p.id} (${p.action}, ${p.status})`;
      const rows = decisions.filter((d) => d.plan_id === p.id);
      const approvals = rows.filter((d) => d.decision === 'approve');
      const denials = rows.filter((d) => d.decision === 'deny');
      const requester = p.requested_by?.type === 'user' ? p.requested_by.id : null;
      // 3: one decision per person per plan; 1: each bound to this plan's digest, none the subject's.
      must(new Set(rows.map((d) => d.approver_id)).size === rows.length, `${what}: a person decided twice`);
      for (const d of rows) {
        must(
          d.action_digest === p.action_digest,
          `${what}: ${name(d.approver_id)}'s ${d.decision} names digest ${d.action_digest}, the plan ` +
            `${p.action_digest}`,
        );
        must(d.approver_id !== p.subject_user_id, `${what}: the subject decided it`);
        // Nobody approves what they asked for; a restore's request is its requester's (first) approval.
        if (d.approver_id === requester)
          must(
            p.action === 'restore' && d.decision === 'approve' && d.reason === `requested: ${p.restore_reason}`,
            `${what}: its requester decided it`,
          );
      }
      const done = acts(p.id);
      if (p.status === 'executed') {
        // 1: executed only with its approvals complete.
        must(
          approvals.length >= p.approvals_required,
          `${what}: executed with ${approvals.length} of ${p.approvals_required} approvals`,
        );
        must(
          p.approvals_required >= (p.action === 'suspend' ? 1 : 0),
          `${what}: needs ${p.approvals_required} approvals`,
        );
        must(denials.length === 0, `${what}: executed though denied`);
        // 2 and 3: it acted exactly once, as approved: this digest, these approvals, this subject or record.
        const approvers = sorted(approvals.map((d) => d.approver_id));
        const main = done.filter((e) => e.action === (p.action === 'suspend' ? 'user.suspend' : 'containment.restore'));
        must(main.length === 1, `${what}: acted ${main.length} times`);
        for (const act of main) {
          must(
            act.actor_type === 'responder' && act.authz.method === 'approved_plan',
            `${what}: acted by ${act.actor_type} under ${String(act.authz.method)}`,
          );
          must(
            act.authz.action_digest === p.action_digest,
            `${what}: acted under digest ${String(act.authz.action_digest)}, approved ${p.action_digest}`,
          );
          must(
            sorted(act.authz.approved_by as string[]) === approvers,
            `${what}: acted as approved by [${String(act.authz.approved_by)}], approvals are [${approvers}]`,
          );
          must(
            sorted((act.cause.approvals as Array<{ approver_id: string }>).map((a) => a.approver_id)) === approvers,
            `${what}: its cause names other approvals`,
          );
          for (const d of approvals)
            must(time(d.created_at) <= time(act.recorded_at), `${what}: acted before ${name(d.approver_id)} approved`);
          must(
            act.target_id === (p.action === 'suspend' ? p.subject_user_id : p.containment_id),
            `${what}: acted on ${act.target_id}`,
          );
        }
        if (p.action === 'suspend') {
          must(done.length === 1, `${what}: did ${done.map((e) => e.action).join(', ')}`);
          const record = containments.find((c) => c.plan_id === p.id);
          must(record !== undefined, `${what}: opened no containment`);
          if (record?.status === 'open')
            must(
              stateOf(p.subject_user_id) === 'SUSPENDED',
              `${what}: its containment is open, the subject is not suspended`,
            );
        } else {
          const reactivations = done.filter((e) => e.action === 'user.reactivate').map((e) => e.target_id);
          must(
            done.length === 2 && sorted(reactivations) === p.subject_user_id,
            `${what}: did ${done.map((e) => `${e.action} ${e.target_id}`).join(', ')}`,
          );
          const record = containments.find((c) => c.id === p.containment_id);
          must(
            record?.status === 'closed' && record.close_reason === p.restore_reason,
            `${what}: left its containment ${record?.status} (${record?.close_reason})`,
          );
        }
      } else {
        // 3: a plan that did not execute never acted, opened no containment, has no execution time.
        must(done.length === 0, `${what}: did ${done.map((e) => e.action).join(', ')}`);
        must(!containments.some((c) => c.plan_id === p.id), `${what}: opened a containment`);
        must(p.executed_at === null, `${what}: has an execution time`);
        if (p.status === 'pending_approval')
          must(
            approvals.length < p.approvals_required && denials.length === 0,
            `${what}: still pending with ${approvals.length} approvals, ${denials.length} denials`,
          );
        if (p.status === 'denied')
          must(
            denials.length === 1 && approvals.length < p.approvals_required,
            `${what}: ${denials.length} denials, ${approvals.length} approvals`,
          );
        if (p.status === 'duplicate') must(rows.length === 0, `${what}: decided`);
        // Approved, but the subject was already suspended: nothing done.
        if (p.status === 'no_action' && rows.length > 0)
          must(approvals.length >= p.approvals_required, `${what}: completed with ${approvals.length} approvals`);
      }
      // Each ending audited once.
      for (const [action, status] of [
        ['plan.deny', 'denied'],
        ['plan.expire', 'expired'],
        ['plan.void', 'void'],
      ] as const) {
        must(
          endings(p.id, action) === (p.status === status ? 1 : 0),
          `${what}: ${endings(p.id, action)} ${action} entries`,
        );
      }
    }
    // 4: every suspension and reactivation of a subject is a fully approved plan's, acting on its subject.
    for (const e of entries.filter(
      (x) => (x.action === 'user.suspend' || x.action === 'user.reactivate') && subjectIds.includes(x.target_id),
    )) {
      const what = `${e.action} of ${name(e.target_id)}`;
      const plan = plans.find((p) => p.id === e.authz.plan_id);
      must(
        e.actor_type === 'responder' && e.authz.method === 'approved_plan' && plan !== undefined,
        `${what}: not by an approved plan`,
      );
      if (!plan) continue;
      must(
        plan.status === 'executed' &&
          plan.action === (e.action === 'user.suspend' ? 'suspend' : 'restore') &&
          plan.subject_user_id === e.target_id,
        `${what}: by plan ${plan.id} (${plan.action} of ${name(plan.subject_user_id)}, ${plan.status})`,
      );
      const before = decisions.filter(
        (d) => d.plan_id === plan.id && d.decision === 'approve' && time(d.created_at) <= time(e.recorded_at),
      );
      must(
        before.length >= plan.approvals_required,
        `${what}: with ${before.length} of ${plan.approvals_required} approvals`,
      );
    }
    // A suspended subject is held by exactly one open containment, opened by an executed plan.
    for (const id of subjectIds) {
      const open = containments.filter((c) => c.user_id === id && c.status === 'open');
      must(
        open.length === (stateOf(id) === 'SUSPENDED' ? 1 : 0),
        `${name(id)} is ${stateOf(id)} with ${open.length} open containments`,
      );
      for (const c of open)
        must(
          plans.find((p) => p.id === c.plan_id)?.status === 'executed',
          `${name(id)}'s open containment is not an executed plan's`,
        );
    }
    if (full) {
      // The audit reader the API uses sees the same entries as the query above.
      const ids = [...subjectIds, ...planIds, ...containments.map((c) => c.id)];
      const trail = (await auditTrail(core, accountId)).filter(
        (e) => ids.includes(e.target_id) || planIds.includes((e.authz as { plan_id?: string }).plan_id ?? ''),
      );
      must(
        sorted(trail.map((e) => `${e.action}:${e.target_id}`)) ===
          sorted(entries.map((e) => `${e.action}:${e.target_id}`)),
        'the audit trail differs from the entries read',
      );
    }
    if (bad.length > 0) expect.fail(`after ${label}:\n  ${bad.join('\n  ')}`);
  };

  // -------------------------------------------------------------------------------------------------
  // The commands.

  type Cmd = fc.AsyncCommand<Model, Real>;

  class SignalCmd implements Cmd {
    constructor(
      readonly subject: number,
      readonly pb: Pb,
    ) {}
    check = () => true;
    async run(m: Model, real: Real) {
      await signal(m, real, this.subject, this.pb);
      await verify(m, real, this.toString());
    }
    toString = () => `signal(${NAMES[this.subject]}, ${this.pb})`;
  }

  class OpCmd implements Cmd {
    constructor(readonly spec: Spec) {}
    check = (m: Readonly<Model>) =>
      this.spec.kind === 'decide' ? m.plans.length > 0 : m.containments.some((c) => c.id !== null);
    async run(m: Model, real: Real) {
      await step(m, real, this.spec);
      await verify(m, real, this.toString());
    }
    toString = () => JSON.stringify(this.spec);
  }

  /**
   * Two operations at once: two people on the same plan or containment, a suspension and a restore of
   * the same subject decided together (which must not deadlock: both take the plans, then the user),
   * or anything beside anything.
   */
  class ConcurrentCmd implements Cmd {
    constructor(
      readonly a: Spec,
      readonly b: Spec,
      readonly same: 'target' | 'subject' | 'any',
    ) {}
    check = (m: Readonly<Model>) =>
      [this.a, this.b].every((s) =>
        s.kind === 'decide' ? m.plans.length > 0 : m.containments.some((c) => c.id !== null),
      );
    async run(m: Model, real: Real) {
      const first = resolve(m, this.a);
      let second = resolve(m, this.b);
      if (this.same === 'target' && first.kind === 'decide' && this.b.kind === 'decide')
        second = resolve(m, this.b, [first.plan]);
      if (this.same === 'target' && first.kind === 'restore' && second.kind === 'restore')
        second = { ...second, containment: first.containment };
      if (this.same === 'subject' && first.kind === 'decide') {
        // The other kind of pending plan about the same subject, or its containment (a suspension
        // decided beside a restore).
        const plan = m.plans[first.plan]!;
        const siblings =
          this.b.kind === 'decide'
            ? m.plans
                .map((_, i) => i)
                .filter(
                  (i) =>
                    m.plans[i]!.status === 'pending_approval' &&
                    m.plans[i]!.subject === plan.subject &&
                    m.plans[i]!.kind !== plan.kind,
                )
            : m.containments
                .map((_, i) => i)
                .filter((i) => m.containments[i]!.open && m.containments[i]!.subject === plan.subject);
        if (siblings.length > 0) second = resolve(m, this.b, siblings);
      }
      const ops = [first, second];
      const calls = ops.map((r) => prepare(m, real, r));
      const actual = await Promise.all(calls.map((call) => call()));
      // The result must be that of one order or the other (the plan's row lock serializes deciders).
      const tried: string[] = [];
      for (const order of [
        [0, 1],
        [1, 0],
      ]) {
        const model = structuredClone(m);
        const predicted: Array<ReturnType<typeof apply>> = [];
        for (const i of order) predicted[i] = apply(model, ops[i]!);
        if (predicted.every((p, i) => sameOutcome(p.outcome, actual[i]!.outcome))) {
          Object.assign(m, model);
          for (const i of order) await learn(m, predicted[i]!.created, actual[i]!);
          await verify(m, real, this.toString());
          return;
        }
        tried.push(`order ${order.join(',')}: ${predicted.map((p) => show(p.outcome)).join(' | ')}`);
      }
      expect.fail(
        `${ops.map(describeResolved).join(' ‖ ')}: got ${actual.map((a) => show(a.outcome)).join(' | ')}; expected ` +
          `${tried.join('; or ')}`,
      );
    }
    toString = () => `concurrently(${JSON.stringify(this.a)}, ${JSON.stringify(this.b)}, ${this.same})`;
  }

  class ExpireCmd implements Cmd {
    constructor(
      readonly plan: number,
      readonly worker: boolean,
    ) {}
    check = (m: Readonly<Model>) => m.plans.length > 0;
    async run(m: Model, real: Real) {
      const pending = m.plans.filter((p) => p.status === 'pending_approval');
      const plan = pending.length > 0 ? pending[this.plan % pending.length]! : m.plans[this.plan % m.plans.length]!;
      await sql`UPDATE plans SET expires_at = now() - interval '1 second' WHERE account_id = ${accountId}
          AND id = ${plan.id}`.execute(db());
      plan.timeUp = true;
      if (this.worker) {
        await core.containmentWorker.pass();
        for (const p of m.plans) if (p.timeUp && p.status === 'pending_approval') p.status = 'expired';
      }
      await verify(m, real, this.toString());
    }
    toString = () => `expire(${this.plan}${this.worker ? ', worker' : ''})`;
  }

  /** A new version of a playbook (edited, or enabled/disabled): its pending plans are stale. */
  class PlaybookCmd implements Cmd {
    constructor(
      readonly pb: Pb,
      readonly toggle: boolean,
    ) {}
    check = () => true;
    async run(m: Model, real: Real) {
      const state = m.playbooks[this.pb];
      if (this.toggle) state.enabled = !state.enabled;
      else state.edits++;
      state.version++;
      const [applied] = await applyPlaybooks(core.response, testCtx, accountId, [playbookDoc(real, this.pb, state)]);
      expect(applied).toMatchObject({ version: state.version, changed: true });
      // Its pending plans are void by the next decision at the latest; the apply may void them at once
      // (all of them, and nothing else).
      const stale = m.plans.filter(
        (p) => p.kind === 'suspend' && p.playbook === this.pb && p.status === 'pending_approval',
      );
      if (stale.length > 0) {
        const rows = await db()
          .selectFrom('plans')
          .select('status')
          .where('account_id', '=', accountId)
          .where(
            'id',
            'in',
            stale.map((p) => p.id),
          )
          .execute();
        const statuses = [...new Set(rows.map((r) => r.status))];
        expect([['pending_approval'], ['void']], `the stale plans are ${statuses.join(', ')}`).toContainEqual(statuses);
        if (statuses[0] === 'void') for (const p of stale) p.status = 'void';
      }
      await verify(m, real, this.toString());
    }
    toString = () => `playbook(${this.pb}, ${this.toggle ? 'toggle' : 'edit'})`;
  }

  class PolicyCmd implements Cmd {
    constructor(readonly n: number) {}
    check = () => true;
    async run(m: Model, real: Real) {
      await setRestorePolicy(core.response, testCtx, accountId, {
        restore_approvals: this.n,
        approver_group_id: groupId,
      });
      m.restorePolicy = this.n;
      await verify(m, real, this.toString());
    }
    toString = () => `restorePolicy(${this.n})`;
  }

  /** A MEMBER joins or leaves the approver group. */
  class GroupCmd implements Cmd {
    constructor(readonly person: number) {}
    check = () => true;
    async run(m: Model, real: Real) {
      const p = m.people[this.person]!;
      const change = p.inGroup ? removeMember : addMember;
      expect(await change(core.directory, testCtx, accountId, groupId, real.ids[this.person]!)).toBe(true);
      p.inGroup = !p.inGroup;
      await verify(m, real, this.toString());
    }
    toString = () => `toggleGroup(${NAMES[this.person]})`;
  }

  class CheckCmd implements Cmd {
    check = () => true;
    async run(m: Model, real: Real) {
      await verify(m, real, 'check', true);
    }
    toString = () => 'check';
  }

  const setup = async (): Promise<{ model: Model; real: Real }> => {
    const run = ++runs;
    const real: Real = { run, ids: [ownerId], signals: 0 };
    // The run's people, in one transaction; the group member in the approver group.
    const email = (i: number) => `r${run}-${NAMES[i]!.toLowerCase()}@approvals.example`;
    const inputs = NAMES.slice(1).map((name, j) => ({
      email: email(j + 1),
      display_name: name,
      role: ROLES[j + 1]!,
      ...(j + 1 === GROUP_MEMBER ? { groups: ['Approvers'] } : {}),
    }));
    const users = await core.directory.audit.transact((trx) =>
      insertUsersWithGroups(core.directory, trx, testCtx, accountId, inputs),
    );
    for (let i = 1; i < NAMES.length; i++) real.ids.push(users.find((u) => u.email === email(i))!.id);
    const model: Model = {
      people: ROLES.map((role, i) => ({ role, inGroup: i === GROUP_MEMBER, state: 'ACTIVE' })),
      plans: [],
      containments: [],
      playbooks: { one: { version: 1, enabled: true, edits: 0 }, two: { version: 1, enabled: true, edits: 0 } },
      restorePolicy: 2,
    };
    await applyPlaybooks(core.response, testCtx, accountId, [
      playbookDoc(real, 'one', model.playbooks.one),
      playbookDoc(real, 'two', model.playbooks.two),
    ]);
    await setRestorePolicy(core.response, testCtx, accountId, { restore_approvals: 2, approver_group_id: groupId });
    // Something to decide from the first command on: a plan needing two people about A; B suspended
    // by a plan one person approved, under an open containment.
    await signal(model, real, SUBJECT_A, 'two');
    await signal(model, real, SUBJECT_B, 'one');
    await perform(model, real, {
      kind: 'decide',
      person: ADMIN_1,
      plan: 1,
      decision: 'approve',
      digest: model.plans[1]!.digest!,
    });
    expect(model.people[SUBJECT_B]!.state).toBe('SUSPENDED');
    last = { model, real };
    return { model, real };
  };

  // Mostly people who may approve; sometimes the plain member or a subject.
  const person = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(OWNER, ADMIN_1, ADMIN_2, GROUP_MEMBER) },
    { weight: 1, arbitrary: fc.constantFrom(PLAIN, SUBJECT_A, SUBJECT_B) },
  );
  const pick = fc.nat({ max: 63 });
  const decide: fc.Arbitrary<DecideSpec> = fc.record({
    kind: fc.constant('decide' as const),
    person,
    plan: pick,
    decision: fc.constantFrom<Array<'approve' | 'deny'>>('approve', 'approve', 'approve', 'approve', 'deny'),
    digest: fc.constantFrom<DigestChoice[]>('right', 'right', 'right', 'right', 'right', 'zeros', 'other'),
  });
  const restore: fc.Arbitrary<RestoreSpec> = fc.record({
    kind: fc.constant('restore' as const),
    person,
    containment: pick,
    reason: fc.constantFrom<RestoreReason[]>('restored', 'false_positive'),
  });
  const op = fc.oneof({ weight: 3, arbitrary: decide }, { weight: 1, arbitrary: restore });
  const together = fc
    .tuple(op, op, fc.constantFrom<Array<'target' | 'subject' | 'any'>>('target', 'target', 'subject', 'any'))
    .map(([a, b, same]) => new ConcurrentCmd(a, b, same));
  const commands = fc.commands<Model, Real, false>(
    [
      fc
        .record({ subject: fc.constantFrom(...SUBJECTS), pb: fc.constantFrom<Pb[]>('one', 'two') })
        .map(({ subject, pb }) => new SignalCmd(subject, pb)),
      decide.map((s) => new OpCmd(s)),
      decide.map((s) => new OpCmd(s)),
      decide.map((s) => new OpCmd(s)),
      restore.map((s) => new OpCmd(s)),
      restore.map((s) => new OpCmd(s)),
      together,
      together,
      fc.record({ plan: pick, worker: fc.boolean() }).map(({ plan, worker }) => new ExpireCmd(plan, worker)),
      fc
        .record({ pb: fc.constantFrom<Pb[]>('one', 'two'), toggle: fc.boolean() })
        .map(({ pb, toggle }) => new PlaybookCmd(pb, toggle)),
      fc.constantFrom(0, 1, 2).map((n) => new PolicyCmd(n)),
      fc.constantFrom(GROUP_MEMBER, PLAIN).map((p) => new GroupCmd(p)),
      fc.constant(null).map(() => new CheckCmd()),
    ],
    { maxCommands: 15, size: 'max' },
  );

  it(
    'no action without its distinct approvals, none executes ' + 'another action than approved, none is used twice',
    async () => {
      await fc.assert(
        fc.asyncProperty(commands, async (cmds) => {
          await fc.asyncModelRun(setup, cmds);
          await verify(last!.model, last!.real, 'end', true);
        }),
        { numRuns: 25 },
      );
    },
  );
});
