/**
 * A containment's remote side, decided in the transaction of the plan (or restore) that decides the local
 * one: which targets a playbook's set names, what each would do (suspend the mirrored identity, resolve it
 * by email at execution, or nothing: "not on <target>"), and the steps (an outbox) that workers carry out
 * after commit (targets/worker.ts).
 *
 * - `targets: all` (the default) is every enabled target of the account; a list names them (`cordon`, the
 *   local directory, is always acted on and may be named). A name that no enabled target has is shown in
 *   the plan as doing nothing.
 * - A target where the mirror holds the subject gets a step with its external id; one never fully synced,
 *   or a `gtr` target (which needs no id), gets a step that resolves at execution; a synced target without
 *   the subject gets none.
 * - A restore cancels the pending suspend steps and writes one reactivate step per target a suspension may
 *   have reached, except `gtr` (revocation only: nothing to undo).
 */
import { toJsonText, type CallContext } from '../audit/entry.js';
import { newId } from '../ids.js';
import type { Executor } from '../store/executor.js';
import { insertSteps, listPlanTargets, setTargetsState, type NewStep, type PlanTarget } from '../store/steps.js';
import { findPlaybookVersion } from '../store/playbooks.js';
import { findIdentitiesByHints } from '../store/targets.js';

/** The local directory: always acted on, and allowed in a playbook's list. */
export const LOCAL_TARGET = 'cordon';

export type TargetSet = 'all' | string[];

/** What a plan would do on one target. */
export interface TargetPlanItem {
  target: string;
  target_id: string | null;
  kind: string | null;
  would: 'suspend' | 'nothing';
  /** The mirrored identity's id, or how it is found at execution. */
  external_id?: string;
  reason?: string;
  /** Set once the step is written. */
  step_id?: string;
}

export interface TargetPlan {
  items: TargetPlanItem[];
  /** The enabled remote targets of the set, sorted: what an approval's digest binds. */
  targetIds: string[];
  /** Internal: the targets acted on, with their external ids (null: resolve). */
  acts: Array<{ target: PlanTarget; externalId: string | null; item: TargetPlanItem }>;
}

export const RESOLVE_AT_EXECUTION = 'resolve by email at execution';

/** The subject's hints as a step keeps them. */
export interface StepSubject {
  user_id: string;
  email: string;
  user_name?: string | undefined;
}

/** The enabled targets the set names (in name order), and what it names that is no enabled target. */
function chooseTargets(all: PlanTarget[], set: TargetSet): { chosen: PlanTarget[]; missing: TargetPlanItem[] } {
  if (set === 'all') return { chosen: all.filter((t) => t.enabled), missing: [] };
  const chosen: PlanTarget[] = [];
  const missing: TargetPlanItem[] = [];
  for (const name of new Set(set)) {
    if (name === LOCAL_TARGET) continue;
    const target = all.find((t) => t.name === name);
    if (target?.enabled) chosen.push(target);
    else
      missing.push({
        target: name,
        target_id: target?.id ?? null,
        kind: target?.kind ?? null,
        would: 'nothing',
        reason: target ? `${name} is disabled` : `no target is named ${name}`,
      });
  }
  return { chosen, missing };
}

/** The sorted ids of the enabled remote targets a set holds now: what an approval's digest binds. */
export async function targetSetIds(db: Executor, accountId: string, set: TargetSet): Promise<string[]> {
  return chooseTargets(await listPlanTargets(db, accountId), set)
    .chosen.map((t) => t.id)
    .sort();
}

/** The names a playbook's list gives that the account has no target by (removed ones included). */
export async function unknownTargetNames(db: Executor, accountId: string, names: string[]): Promise<string[]> {
  const all = await listPlanTargets(db, accountId);
  return names.filter((n) => n !== LOCAL_TARGET && !all.some((t) => t.name === n));
}

/** What the set names, as the account's targets stand now, and what each would do for this subject. */
export async function planTargets(
  db: Executor,
  accountId: string,
  set: TargetSet,
  subject: StepSubject,
): Promise<TargetPlan> {
  const { chosen, missing: items } = chooseTargets(await listPlanTargets(db, accountId), set);
  // The subject's email or user name, as either on the target; an identity whose email matches comes first.
  const names = [subject.email, ...(subject.user_name ? [subject.user_name] : [])];
  const mirrored = await findIdentitiesByHints(
    db,
    accountId,
    { emails: names, userNames: names },
    chosen.filter((t) => t.kind !== 'gtr').map((t) => t.id),
  );
  const lower = names.map((n) => n.toLowerCase());
  const byEmail = (m: (typeof mirrored)[number]) => m.email !== null && lower.includes(m.email.toLowerCase());
  const acts: TargetPlan['acts'] = [];
  for (const target of chosen) {
    const on = mirrored.filter((m) => m.target_id === target.id);
    const found = on.find(byEmail) ?? on[0];
    const base = { target: target.name, target_id: target.id, kind: target.kind };
    if (found) {
      const item: TargetPlanItem = { ...base, would: 'suspend', external_id: found.external_id };
      acts.push({ target, externalId: found.external_id, item });
      items.push(item);
    } else if (target.kind === 'gtr' || target.last_sync_at === null) {
      const item: TargetPlanItem = { ...base, would: 'suspend', external_id: RESOLVE_AT_EXECUTION };
      acts.push({ target, externalId: null, item });
      items.push(item);
    } else items.push({ ...base, would: 'nothing', reason: `not on ${target.name}` });
  }
  items.sort((a, b) => a.target.localeCompare(b.target));
  return { items, targetIds: chosen.map((t) => t.id).sort(), acts };
}

/** A step keeps its executing principal's authorization and cause. */
export function stepSubject(subject: StepSubject, ctx: CallContext, extra: Record<string, unknown> = {}): string {
  return toJsonText({ ...subject, ...extra, authz: ctx.authz, cause: ctx.cause ?? {} });
}

/**
 * Writes the suspend steps of a plan that opened `containmentId` (in its transaction) and marks the record
 * in progress; the plan's items get their step ids. Returns how many were written.
 */
export async function writeSuspendSteps(
  db: Executor,
  accountId: string,
  containmentId: string,
  planId: string,
  plan: TargetPlan,
  subject: StepSubject,
  ctx: CallContext,
): Promise<number> {
  const now = Date.now();
  const steps: NewStep[] = plan.acts.map(({ target, externalId, item }) => {
    item.step_id ??= newId();
    return {
      account_id: accountId,
      id: item.step_id,
      containment_id: containmentId,
      plan_id: planId,
      target_id: target.id,
      operation: 'suspend',
      external_id: externalId,
      subject: stepSubject(subject, ctx),
      deadline_at: new Date(now + target.step_deadline_seconds * 1000),
    };
  });
  await insertSteps(db, steps);
  if (steps.length > 0) await setTargetsState(db, accountId, containmentId, 'in_progress');
  return steps.length;
}

/** Gives each item its step id before the steps are written (the plan's verdict names them). */
export function assignStepIds(plan: TargetPlan): void {
  for (const act of plan.acts) act.item.step_id ??= newId();
}

/**
 * An approved suspension's remote side, in its transaction: the set of the plan's playbook version, as the
 * targets stand now (the digest just checked that the set's ids are those the approvals saw), and its steps.
 */
export async function suspendRemote(
  db: Executor,
  plan: { account_id: string; id: string; playbook_name: string | null; playbook_version: number | null },
  containmentId: string,
  subject: StepSubject,
  ctx: CallContext,
): Promise<{ items: TargetPlanItem[]; written: number }> {
  const row = await findPlaybookVersion(db, plan.account_id, plan.playbook_name ?? '', plan.playbook_version ?? 0);
  const set = (row?.document as { targets?: TargetSet } | undefined)?.targets ?? 'all';
  const remote = await planTargets(db, plan.account_id, set, subject);
  const written = await writeSuspendSteps(db, plan.account_id, containmentId, plan.id, remote, subject, ctx);
  return { items: remote.items, written };
}
