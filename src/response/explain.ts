/**
 * `cordon explain`: the whole chain behind an action, from any of its ids (a plan, a containment, a signal,
 * or an audit index): signal → playbook and version → each guard verdict → approvals → the executing
 * principal and its authorization → outcome → the audit entry that records the action, with its inclusion
 * proof against the latest signed checkpoint (checked by the caller: the CLI verifies it offline). When the
 * subject is a non-human identity (a leaked secret's owner), the leak and what was revoked come with it
 * (explain-nhi.ts). The API shows it through http/views/explain.ts.
 */
import { sql } from 'kysely';
import type { CheckpointKey } from '../audit/checkpoint-key.js';
import { proveAgainstLatest, type EntryProof } from '../audit/proofs.js';
import { AppError } from '../errors.js';
import { listDecisions } from '../store/approvals.js';
import { findFirstEntry, searchEntries, type NumberedEntry } from '../store/audit.js';
import { findContainment, findContainmentOfPlan, type ContainmentRow } from '../store/containments.js';
import type { Executor } from '../store/executor.js';
import { findPlan, findPlanOfSignal, type PlanRow } from '../store/plans.js';
import { findPlaybookVersion } from '../store/playbooks.js';
import { findSignal } from '../store/signals.js';
import { findUserById } from '../store/users.js';
import { listAttemptEntries, listStepsOf } from '../store/steps.js';
import { explainNhi, readExplainedOwner, type ExplainedNhi } from './explain-nhi.js';
import { BUILT_IN_PLAYBOOKS } from './playbooks.js';

export interface Explanation {
  id: string;
  kind: 'plan' | 'containment' | 'signal' | 'audit_entry';
  signal: Record<string, unknown> | null;
  /** Who submitted the signal, under which authorization (client, token jti, permissions). */
  submitted_by: { actor: { type: string; id: string }; authz: Record<string, unknown>; index: number } | null;
  playbook: { name: string; version: number; content_hash: string | null } | null;
  plan: PlanRow | null;
  approvals: Array<{ approver_id: string; decision: string; reason: string; time: string }>;
  /** The entry recording the action (the suspension or the NHI's containment, or the restore). */
  action: NumberedEntry | null;
  outcome: {
    plan_status: string | null;
    user_id: string | null;
    user_state: string | null;
    containment: Pick<ContainmentRow, 'id' | 'status' | 'close_reason' | 'locked' | 'targets_state'> | null;
  };
  /** A non-human identity's leak and containment (null: the subject is a user, or none). */
  nhi: ExplainedNhi | null;
  /** The action entry's inclusion proof; null until a signed checkpoint covers it. */
  proof: EntryProof | null;
  /** The record's remote steps by target, each attempt with the index of its `target.attempt` entry. */
  targets: ExplainedTarget[];
}

export interface ExplainedTarget {
  target_id: string;
  name: string;
  kind: string;
  steps: Array<{
    id: string;
    operation: string;
    status: string;
    attempts: Array<{
      index: number | null;
      attempt: number;
      outcome: string;
      status: number | null;
      latency_ms: number | null;
    }>;
  }>;
}

/** A record's steps grouped by target, with their attempts' entries (index order; unnumbered ones last). */
async function explainTargets(db: Executor, accountId: string, containmentId: string): Promise<ExplainedTarget[]> {
  const steps = await listStepsOf(db, accountId, [containmentId]);
  const entries = await listAttemptEntries(
    db,
    accountId,
    steps.map((s) => s.id),
  );
  const targets: ExplainedTarget[] = [];
  for (const step of steps) {
    let target = targets.find((t) => t.target_id === step.target_id);
    if (!target)
      targets.push((target = { target_id: step.target_id, name: step.target_name, kind: step.kind, steps: [] }));
    target.steps.push({
      id: step.id,
      operation: step.operation,
      status: step.status,
      attempts: entries
        .filter((e) => e.target_id === step.id)
        .map((e) => {
          const error = e.details['error'] as { status?: number | null } | null;
          const calls = (e.details['calls'] as Array<{ status: number | null }> | undefined) ?? [];
          return {
            index: e.idx,
            attempt: e.details['attempt'] as number,
            outcome: e.details['outcome'] as string,
            status: error?.status ?? calls.at(-1)?.status ?? null,
            latency_ms: (e.details['latency_ms'] as number | null) ?? null,
          };
        }),
    });
  }
  return targets;
}

/** What explaining reads: the database, and the key of the checkpoints the proof is against. */
export interface ExplainDeps {
  db: Executor;
  checkpointKey: CheckpointKey;
}

/** Assembles the chain; NOT_FOUND when the id names nothing in the account. */
export async function explain(deps: ExplainDeps, accountId: string, id: string): Promise<Explanation> {
  const { db } = deps;
  let kind: Explanation['kind'];
  let plan: PlanRow | undefined;
  let containment: ContainmentRow | undefined;
  let given: NumberedEntry | undefined;
  if (/^\d{1,15}$/.test(id)) {
    kind = 'audit_entry';
    [given] = await searchEntries(db, accountId, { fromIndex: Number(id), limit: 1 });
    if (given?.idx !== Number(id)) throw notFound(id);
    const named = (key: string) =>
      typeof given!.cause[key] === 'string'
        ? given!.cause[key]
        : typeof given!.details[key] === 'string'
          ? given!.details[key]
          : undefined;
    const planId = given.target_type === 'plan' ? given.target_id : named('plan_id');
    const containmentId = given.target_type === 'containment' ? given.target_id : named('containment_id');
    plan = planId ? await findPlan(db, accountId, planId) : undefined;
    containment = containmentId ? await findContainment(db, accountId, containmentId) : undefined;
  } else {
    plan = await findPlan(db, accountId, id);
    kind = 'plan';
    if (!plan) {
      containment = await findContainment(db, accountId, id);
      kind = 'containment';
    }
    if (!plan && !containment) {
      plan = await findPlanOfSignal(db, accountId, id);
      kind = 'signal';
      if (!plan) throw notFound(id);
    }
  }
  // A restore plan is about its containment; a containment comes from the engine's plan, if any.
  if (plan?.action === 'restore' && !containment)
    containment = await findContainment(db, accountId, plan.containment_id!);
  if (!plan && containment?.plan_id) plan = await findPlan(db, accountId, containment.plan_id);
  if (plan && !containment && (plan.action === 'suspend' || plan.subject_nhi))
    containment = await findContainmentOfPlan(db, accountId, plan.id);

  // What follows depends only on the plan and the containment: read in parallel (on PostgreSQL, each on a
  // connection of its own), each chain in its order.
  const userId = plan?.subject_user_id ?? containment?.user_id ?? null;
  const nhiSubject = plan?.subject_nhi ?? containment?.subject_nhi ?? null;
  const readSignal = async () => {
    const signal = plan?.signal_id ? await findSignal(db, accountId, plan.signal_id) : undefined;
    const receipt = signal
      ? await findFirstEntry(
          db,
          accountId,
          sql`action = 'signal.receive' AND target_type = 'signal' AND target_id = ${signal.id}
              AND outcome = 'changed'`,
        )
      : undefined;
    return { signal, receipt };
  };
  const readAction = async () => {
    const action =
      given && ['user.suspend', 'containment.open', 'containment.restore'].includes(given.action)
        ? given
        : plan?.action === 'restore'
          ? await findFirstEntry(
              db,
              accountId,
              sql`action = 'containment.restore' AND target_id = ${plan.containment_id} AND outcome = 'changed'`,
            )
          : containment
            ? await findFirstEntry(
                db,
                accountId,
                containment.subject_nhi
                  ? sql`action = 'containment.open' AND target_type = 'containment' AND target_id = ${containment.id}`
                  : sql`action = 'user.suspend' AND target_type = 'user' AND target_id = ${containment.user_id}
                    AND details->>'containment_id' = ${containment.id}`,
              )
            : given;
    const proof = action ? ((await proveAgainstLatest(db, deps.checkpointKey, accountId, action.idx)) ?? null) : null;
    return { action, proof };
  };
  const [{ signal, receipt }, { action, proof }, playbookVersion, user, decisions, targets, owner] = await Promise.all([
    readSignal(),
    readAction(),
    plan?.playbook_name ? findPlaybookVersion(db, accountId, plan.playbook_name, plan.playbook_version!) : undefined,
    userId ? findUserById(db, accountId, userId) : undefined,
    plan ? listDecisions(db, accountId, plan.id) : [],
    containment ? explainTargets(db, accountId, containment.id) : [],
    nhiSubject ? readExplainedOwner(db, accountId, nhiSubject) : null,
  ]);
  // A built-in playbook (version 0) is not stored: its hash is the engine's.
  const playbook =
    playbookVersion?.content_hash ??
    BUILT_IN_PLAYBOOKS.find((p) => p.name === plan?.playbook_name && p.version === plan?.playbook_version)?.contentHash;
  return {
    id,
    kind,
    signal: signal
      ? {
          id: signal.id,
          source_id: signal.source_id,
          external_id: signal.external_id,
          type: signal.type,
          title: signal.title,
          severity: signal.severity,
          confidence: signal.confidence,
          receive_time: new Date(signal.received_at).toISOString(),
          false_positive: signal.false_positive_at !== null,
        }
      : null,
    submitted_by: receipt
      ? { actor: { type: receipt.actor_type, id: receipt.actor_id }, authz: receipt.authz, index: receipt.idx }
      : null,
    playbook: plan?.playbook_name
      ? { name: plan.playbook_name, version: plan.playbook_version!, content_hash: playbook ?? null }
      : null,
    plan: plan ?? null,
    approvals: decisions.map((d) => ({
      approver_id: d.approver_id,
      decision: d.decision,
      reason: d.reason,
      time: new Date(d.created_at).toISOString(),
    })),
    action: action ?? null,
    outcome: {
      plan_status: plan?.status ?? null,
      user_id: userId,
      user_state: user?.state ?? null,
      containment: containment
        ? {
            id: containment.id,
            status: containment.status,
            close_reason: containment.close_reason,
            locked: containment.locked,
            targets_state: containment.targets_state,
          }
        : null,
    },
    targets,
    nhi: nhiSubject && explainNhi(nhiSubject, owner, plan, containment, signal),
    proof,
  };
}

const notFound = (id: string) =>
  new AppError('NOT_FOUND', {
    description: `nothing in this account has the id or audit index ${id}`,
    metadata: { id: id.slice(0, 100) },
  });
