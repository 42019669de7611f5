/**
 * The response engine: a signal becomes a plan, evaluated by the guard pipeline, executed and verified,
 * all in one transaction with the signal itself and every audit entry, so that "signal stored" and
 * "user suspended" are never seen one without the other.
 *
 *   resolve-subject → match-playbook → kill-switch → protected-principals → dedup-window →
 *   blast-radius → approval → execute → verify and record
 *
 * A dry run evaluates the same pipeline in a READ ONLY transaction, taking no lock: it writes nothing and
 * changes nothing, and the database would refuse if it tried.
 */
import { sql, type Transaction } from 'kysely';
import { toAuditRow, toJsonText, type Actor, type AuditEntryInput, type CallContext } from '../audit/entry.js';
import type { DirectoryDeps } from '../directory/deps.js';
import { newId } from '../ids.js';
import type { Database } from '../storage/schema.js';
import { admitSignal, loadPlanContext, type Candidate } from '../store/plan-context.js';
import type { AuditEntryValues } from '../store/audit.js';
import { findPlanOfSignal, insertPlanWithEntries, type PlanRow, type PlanValues } from '../store/plans.js';
import { findSignalByExternalId, type SignalRow } from '../store/signals.js';
import { execute, responderContext, VERIFIED, verificationFailure } from './executor.js';
import { approval } from './guards/approval.js';
import { blastRadius } from './guards/blast-radius.js';
import { dedupWindow } from './guards/dedup-window.js';
import { killSwitch } from './guards/kill-switch.js';
import { matchPlaybook } from './guards/match-playbook.js';
import { protectedPrincipals } from './guards/protected-principals.js';
import { resolveSubject } from './guards/resolve-subject.js';
import type { CanonicalSignal } from './intake/signal.js';
import { actionDigest, type EngineDefaults, type GuardStep, type PlanDraft } from './plan.js';
import { fromRow } from './playbooks.js';
import { planTargets, writeSuspendSteps } from '../targets/steps.js';
import { readPolicy } from './protection-policy.js';
import { SECRET_LEAKED } from './intake/canonical.js';
import { executeNhi } from './nhi.js';
import { findNhiSubject, leakFacts } from './nhi-subject.js';
import { isNhiAction } from './playbook.js';
import { withBuiltIns } from './playbooks.js';
import type { NhiSubject } from '../storage/schema.js';

/** The guards, in policy order. */
export const PIPELINE: readonly GuardStep[] = [
  resolveSubject,
  matchPlaybook,
  killSwitch,
  protectedPrincipals,
  dedupWindow,
  blastRadius,
  approval,
];

export interface ResponseDeps extends DirectoryDeps {
  defaults: EngineDefaults;
  /** Raw payloads larger than this are stored cut (the canonical fields are always whole). */
  rawMaxBytes: number;
  /** The step worker (targets/worker.ts), kicked after a commit that wrote remote steps. */
  steps?: { kick(): void } | undefined;
}

export interface IncomingSignal {
  accountId: string;
  sourceId: string;
  signal: CanonicalSignal;
  /** The payload as received (JSON text), kept with the signal up to rawMaxBytes. */
  rawText: string;
  /** Who submitted it: the source's app or webhook secret. */
  ctx: CallContext;
  /** A `secret.leaked` signal's owner when the caller found it already (a leak report); else looked up here. */
  owner?: NhiSubject;
}

export interface Reception {
  signal: SignalRow;
  /** The signal's plan (for a duplicate, the first copy's; stored in the same transaction as its signal). */
  plan: PlanRow | undefined;
  duplicate: boolean;
  /** Milliseconds spent in each step, for Server-Timing and the benchmark. */
  timings: Array<[string, number]>;
}

/** A dry run: the plan the signal would get, never stored (http/views/plans.ts renders it). */
export interface DryRun {
  draft: PlanDraft;
  /** A signal with this source and external id is already stored: submitting it would change nothing. */
  duplicate: boolean;
}

/** Receives one signal: stores it (once per source and external id), plans, executes, verifies, records. */
export async function receiveSignal(deps: ResponseDeps, input: IncomingSignal): Promise<Reception> {
  let wroteSteps = 0;
  const reception = await deps.audit.transact(async (trx) => {
    const received = await receiveSignalIn(deps, trx, input);
    wroteSteps = received.wroteSteps;
    return received.reception;
  });
  if (wroteSteps > 0) deps.steps?.kick();
  return reception;
}

/**
 * receiveSignal inside the caller's transaction (a leak report contains each of its secrets in its own):
 * the caller kicks the step worker after commit when `wroteSteps` is not 0.
 */
export async function receiveSignalIn(
  deps: ResponseDeps,
  trx: Transaction<Database>,
  input: IncomingSignal,
): Promise<{ reception: Reception; wroteSteps: number }> {
  const timings: Array<[string, number]> = [];
  let t = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    timings.push([name, now - t]);
    t = now;
  };
  const { accountId, signal: canonical } = input;
  let wroteSteps = 0;
  const raw = capRaw(input.rawText, deps.rawMaxBytes);
  const row = {
    account_id: accountId,
    id: newId(),
    source_id: input.sourceId,
    external_id: canonical.external_id,
    type: canonical.type,
    title: canonical.title,
    severity: canonical.severity,
    confidence: canonical.confidence,
    subject: toJsonText(canonical.subject),
    tags: canonical.tags,
    observed_at: canonical.observed_time,
    raw: raw.json,
    raw_truncated: raw.truncated,
    attributes: toJsonText(canonical.attributes ?? {}),
  };
  // The subject is locked before anything else is read: a concurrent plan for the same user commits
  // first, and this one then reads its open plan (READ COMMITTED gives each statement a new snapshot).
  const { stored, candidates } = await admitSignal(trx, accountId, canonical.subject, { signal: row, lock: true });
  const nhiCandidate = stored ? await secretOwner(deps, trx, accountId, canonical, input.owner) : undefined;
  lap('store-signal');
  const receipt = { accountId, ctx: input.ctx, action: 'signal.receive' } satisfies Partial<AuditEntryInput>;
  if (!stored) {
    const first = (await findSignalByExternalId(trx, accountId, input.sourceId, canonical.external_id))!;
    const plan = await findPlanOfSignal(trx, accountId, first.id);
    await deps.audit.append(trx, {
      ...receipt,
      target: { type: 'signal', id: first.id },
      outcome: 'unchanged',
      details: { reason: 'duplicate', source_id: input.sourceId, external_id: canonical.external_id },
    });
    return { reception: { signal: first, plan, duplicate: true, timings }, wroteSteps: 0 };
  }
  const signal: SignalRow = {
    ...row,
    subject: { ...canonical.subject },
    attributes: { ...(canonical.attributes ?? {}) },
    received_at: stored.received_at,
    false_positive_at: null,
  };

  const draft = newDraft(
    deps,
    accountId,
    { ...canonical, id: signal.id, source_id: input.sourceId },
    candidates,
    input.ctx.actor,
    nhiCandidate,
  );
  await evaluate(draft, trx, lap);
  await planRemote(trx, draft);
  const responder = responderContext(draft, input.ctx.actor);
  if (!draft.status) {
    if (draft.nhi) await executeNhiDraft(deps, trx, draft, responder);
    else {
      const executed = await execute(deps, trx, draft, responder);
      if (executed) draft.verdicts.push(executed);
    }
    lap('execute');
  }
  // Verify and record in one statement: the plan and its entries are written only if the subject is
  // suspended and holds no live session; otherwise the failure is read back and recorded instead.
  // (A non-human identity's containment verified itself: response/nhi.ts.)
  const executed = draft.status === 'executed' && !draft.nhi;
  if (executed) draft.verdicts.push(VERIFIED);
  let plan = await insertPlanWithEntries(
    trx,
    planRow(draft),
    recordEntries(draft, input, responder),
    executed ? draft.subject!.id : undefined,
  );
  if (!plan) {
    draft.verdicts.pop();
    draft.verdicts.push(await verificationFailure(trx, draft));
    plan = (await insertPlanWithEntries(trx, planRow(draft), recordEntries(draft, input, responder)))!;
  } else if (executed && draft.targets && draft.containmentId) {
    // The remote steps, an outbox: written with the suspension and its record, carried out after commit.
    const subject = { user_id: draft.subject!.id, email: draft.subject!.email };
    wroteSteps = await writeSuspendSteps(
      trx,
      accountId,
      draft.containmentId,
      draft.id,
      draft.targets,
      subject,
      responder,
    );
  }
  lap('verify-record');
  return { reception: { signal, plan, duplicate: false, timings }, wroteSteps };
}

/**
 * The owner of a `secret.leaked` signal's secret in its account, as the caller found it or looked up by
 * its SHA-256. Its row is locked at execution (response/nhi.ts), which finds a secret another plan replaced
 * meanwhile and does nothing.
 */
async function secretOwner(
  deps: ResponseDeps,
  trx: Transaction<Database>,
  accountId: string,
  canonical: CanonicalSignal,
  known: NhiSubject | undefined,
): Promise<NhiSubject | undefined> {
  const hash = canonical.attributes?.['secret.sha256'];
  if (canonical.type !== SECRET_LEAKED || typeof hash !== 'string') return undefined;
  return known?.token_hash === hash ? known : findNhiSubject(deps, trx, accountId, hash);
}

/** Executes a plan about a non-human identity (response/nhi.ts); a dry run says what it would do. */
async function executeNhiDraft(
  deps: ResponseDeps,
  trx: Transaction<Database> | undefined,
  draft: PlanDraft,
  ctx: CallContext,
): Promise<void> {
  const action = draft.playbook!.action;
  if (action === 'notify' || !isNhiAction(action)) {
    draft.status = 'notified';
    draft.verdicts.push({ step: 'execute', outcome: 'pass', reason: 'notify: recorded, nothing changed' });
    return;
  }
  if (!trx) {
    draft.verdicts.push({
      step: 'execute',
      outcome: 'pass',
      reason: `dry run: would ${action}`,
      details: { nhi: draft.nhi },
    });
    return;
  }
  const leak = leakFacts(draft.signal.attributes ?? {}, draft.signal.observed_time);
  const done = await executeNhi(
    deps,
    trx,
    { accountId: draft.accountId, id: draft.id, action, subject: draft.nhi!, leak },
    ctx,
  );
  draft.status = done.status;
  draft.verdicts.push(...done.verdicts);
  draft.entries = done.entries;
  if (done.containmentId) draft.containmentId = done.containmentId;
}

/** A suspension's remote side: what it would do on each target of its playbook's set, as they stand now. */
async function planRemote(trx: Transaction<Database>, draft: PlanDraft): Promise<void> {
  const playbook = draft.playbook;
  if (playbook?.action !== 'suspend' || !draft.subject) return;
  if (draft.status !== undefined && draft.status !== 'pending_approval') return;
  draft.targets = await planTargets(trx, draft.accountId, playbook.targets, {
    user_id: draft.subject.id,
    email: draft.subject.email,
  });
}

/** Evaluates a signal as receiveSignal would, and writes nothing. */
export async function planSignal(
  deps: ResponseDeps,
  accountId: string,
  sourceId: string,
  canonical: CanonicalSignal,
): Promise<DryRun> {
  return deps.db.transaction().execute(async (trx) => {
    await sql`SET TRANSACTION READ ONLY`.execute(trx);
    const duplicate = (await findSignalByExternalId(trx, accountId, sourceId, canonical.external_id)) !== undefined;
    const { candidates } = await admitSignal(trx, accountId, canonical.subject, { lock: false });
    const owner = await secretOwner(deps, trx, accountId, canonical, undefined);
    const draft = newDraft(
      deps,
      accountId,
      { ...canonical, id: '(dry run)', source_id: sourceId },
      candidates,
      undefined,
      owner,
    );
    draft.id = '(dry run)';
    await evaluate(draft, trx, () => {});
    await planRemote(trx, draft);
    const ctx = responderContext(draft, { type: 'system', id: 'dry-run' });
    if (!draft.status && draft.nhi) await executeNhiDraft(deps, undefined, draft, ctx);
    else if (!draft.status) draft.verdicts.push((await execute(deps, undefined, draft, ctx))!);
    return { draft, duplicate };
  });
}

/** A plan to evaluate; without a requester, a dry run. */
function newDraft(
  deps: ResponseDeps,
  accountId: string,
  signal: PlanDraft['signal'],
  candidates: Candidate[],
  requestedBy: Actor | undefined,
  nhiCandidate?: NhiSubject,
): PlanDraft {
  return {
    accountId,
    id: newId(),
    signal,
    dryRun: requestedBy === undefined,
    requestedBy: requestedBy ?? { type: 'system', id: 'dry-run' },
    defaults: deps.defaults,
    candidates,
    nhiCandidate,
    automation: undefined,
    policy: { version: 0, document: {} },
    playbooks: [],
    breakers: [],
    otherActiveOwners: 0,
    openPlans: [],
    now: new Date(),
    verdicts: [],
    holds: [],
    heldBy: [],
  };
}

/** The guards: the subject first, then, from one read of everything else, the rest in policy order. */
async function evaluate(draft: PlanDraft, trx: Transaction<Database>, lap: (name: string) => void): Promise<void> {
  const [first, ...rest] = PIPELINE;
  if (await runStep(first!, draft, trx, lap)) {
    const subject = draft.nhi ? { nhiTokenHash: draft.nhi.token_hash } : { userId: draft.subject!.id };
    const context = await loadPlanContext(trx, draft.accountId, subject, !draft.dryRun);
    Object.assign(draft, {
      automation: context.automation,
      policy: context.policy ? { version: context.policy.version, document: context.policy.document } : draft.policy,
      playbooks: withBuiltIns(
        context.playbooks.map((row) => ({
          ...fromRow(row),
          reachesAdmins: !row.created_by.startsWith('user:') || row.applier_role === 'OWNER',
        })),
      ),
      breakers: context.breakers,
      otherActiveOwners: context.otherActiveOwners,
      openPlans: context.openPlans,
      now: context.now,
    });
    if (draft.subject) draft.subject.groups = context.groups;
    lap('load-context');
    for (const step of rest) if (!(await runStep(step, draft, trx, lap))) return;
  } else {
    // Unresolved: nothing to decide, but the plan records the policy version it would have been under.
    draft.policy = await readPolicy(trx, draft.accountId);
    lap('load-context');
  }
}

/** Runs one step and records its verdict; false when it stopped the plan. */
async function runStep(
  step: GuardStep,
  draft: PlanDraft,
  trx: Transaction<Database>,
  lap: (name: string) => void,
): Promise<boolean> {
  const { status, ...verdict } = await step.run(draft, trx);
  draft.verdicts.push({ step: step.name, ...verdict });
  lap(step.name);
  if (verdict.outcome !== 'stop') return true;
  draft.status = status ?? 'no_action';
  return false;
}

/** The entries that record a plan: the signal's receipt, the plan, and a breaker trip if it made one. */
function recordEntries(draft: PlanDraft, input: IncomingSignal, responder: CallContext): AuditEntryValues[] {
  const { accountId, signal } = input;
  const plan = planRow(draft);
  const entries: AuditEntryInput[] = [
    {
      accountId,
      ctx: input.ctx,
      action: 'signal.receive',
      target: { type: 'signal', id: draft.signal.id },
      outcome: 'changed',
      details: {
        source_id: input.sourceId,
        external_id: signal.external_id,
        type: signal.type,
        severity: signal.severity,
        confidence: signal.confidence,
        plan_id: draft.id,
        plan_status: plan.status,
        subject_user_id: plan.subject_user_id,
        ...(draft.nhi ? { subject_nhi: draft.nhi } : {}),
      },
    },
    {
      accountId,
      ctx: responder,
      action: 'plan.create',
      target: { type: 'plan', id: draft.id },
      outcome: 'changed',
      details: planDetails(plan, draft),
    },
  ];
  entries.push(...(draft.entries ?? []));
  if (draft.tripped) {
    entries.push({
      accountId,
      ctx: responder,
      action: 'automation.breaker_trip',
      target: { type: 'breaker', id: draft.tripped.scope },
      outcome: 'changed',
      details: { ...draft.tripped, plan_id: draft.id, held: [plan.subject_user_id] },
    });
  }
  return entries.map(toAuditRow);
}

/** The plan row a draft is stored as (and a dry run's is shown from). */
export function planRow(draft: PlanDraft): PlanValues {
  const playbook = draft.playbook;
  const pending = draft.status === 'pending_approval';
  return {
    account_id: draft.accountId,
    id: draft.id,
    signal_id: draft.signal.id,
    subject_user_id: draft.subject?.id ?? null,
    playbook_name: playbook?.name ?? null,
    playbook_version: playbook?.version ?? null,
    policy_version: draft.policy.version,
    action: playbook?.action ?? ('none' as const),
    mode: playbook?.mode ?? null,
    approvals_required: pending ? Math.max(1, playbook!.approvals) : 0,
    status: draft.status ?? 'no_action',
    action_digest: pending ? actionDigest(draft) : null,
    verdicts: JSON.stringify(draft.verdicts),
    restore_after_seconds: playbook?.action === 'suspend' ? playbook.restoreAfterSeconds : null,
    subject_nhi: draft.nhi ? toJsonText(draft.nhi) : null,
    executed_at: draft.status === 'executed' ? new Date() : null,
    held_by: draft.heldBy,
    requested_by: toJsonText(draft.requestedBy),
    expires_at: pending
      ? new Date(draft.now.getTime() + (playbook?.approvalTtlSeconds ?? draft.defaults.approvalTtlSeconds) * 1000)
      : null,
    decided_at: null,
    lock_containment: draft.nhi ? false : (playbook?.lock ?? true),
    // A suspension names the record it opened (its execute verdict does too).
    containment_id: draft.containmentId ?? null,
    restore_reason: null,
  };
}

function planDetails(plan: PlanValues, draft: PlanDraft): Record<string, unknown> {
  return {
    status: plan.status,
    signal_id: plan.signal_id,
    subject_user_id: plan.subject_user_id,
    ...(draft.nhi ? { subject_nhi: draft.nhi } : {}),
    playbook: plan.playbook_name,
    playbook_version: plan.playbook_version,
    policy_version: plan.policy_version,
    action: plan.action,
    approvals_required: plan.approvals_required,
    action_digest: plan.action_digest,
    verdicts: draft.verdicts,
  };
}

function capRaw(text: string, max: number): { json: string; truncated: boolean } {
  // Through JSON.parse and the audit log's writer: a NUL or a lone surrogate, which jsonb refuses, becomes U+FFFD.
  if (Buffer.byteLength(text) <= max) return { json: toJsonText(JSON.parse(text)), truncated: false };
  // A cut JSON text is no longer JSON: keep the head as a string, marked.
  return {
    json: JSON.stringify({ truncated_head: Buffer.from(text).subarray(0, max).toString('utf8') }),
    truncated: true,
  };
}
