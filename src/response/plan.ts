/**
 * A plan: what the engine decided to do about one signal, step by step. Each guard step records a
 * verdict; the first step that stops the plan fixes its status, a step that holds it sends it to human
 * approval. The plan is stored with every verdict, the exact playbook and policy versions, and for a
 * pending plan the digest of the exact action its approvals will be bound to (Containment issue).
 */
import { createHash } from 'node:crypto';
import type { Actor, AuditEntryInput } from '../audit/entry.js';
import { canonicalJson } from '../audit/jcs.js';
import type { NhiSubject, PlanStatus } from '../storage/schema.js';
import type { AutomationSettings, BreakerRow, Cap } from '../store/automation.js';
import type { Executor } from '../store/executor.js';
import type { Candidate, PlanContext } from '../store/plan-context.js';
import type { CanonicalSignal } from './intake/signal.js';
import type { Playbook } from './playbook.js';
import type { ProtectionPolicy } from './protection-policy.js';
import type { TargetPlan } from '../targets/steps.js';

export type StepName =
  | 'resolve-subject'
  | 'match-playbook'
  | 'kill-switch'
  | 'protected-principals'
  | 'dedup-window'
  | 'blast-radius'
  | 'approval'
  | 'execute'
  | 'verify'
  | 'targets';

export interface Verdict {
  step: StepName;
  /** pass: go on; hold: go on, but the plan needs approval; stop: the plan ends here with `status`. */
  outcome: 'pass' | 'hold' | 'stop';
  reason: string;
  details?: Record<string, unknown>;
}

/** A signal as the engine sees it: canonical, with its id and source. */
export interface EngineSignal extends CanonicalSignal {
  id: string;
  source_id: string;
}

/** The resolved subject, with the groups it belongs to. */
export type Subject = Candidate & { groups: Array<{ id: string; name: string }> };

/** The engine's limits when the account sets none. */
export interface EngineDefaults {
  breakerMaxActions: number;
  breakerWindowSeconds: number;
  /** How long a pending plan waits for its approvals before it expires. */
  approvalTtlSeconds: number;
}

export interface PlanDraft {
  accountId: string;
  id: string;
  signal: EngineSignal;
  /** Evaluate only: take no lock, write nothing, change nothing. */
  dryRun: boolean;
  defaults: EngineDefaults;
  /** The users the signal's hints matched (locked unless a dry run). */
  candidates: Candidate[];
  subject?: Subject;
  /** A leaked secret's owner the signal names (read, and locked, as the signal was stored; response/nhi.ts). */
  nhiCandidate?: NhiSubject | undefined;
  /** The subject when it is a non-human identity (then `subject` is unset). */
  nhi?: NhiSubject;
  // What the guards decide on, read once the subject is known (store/plan-context.ts).
  /** undefined until the account configures or pauses automation. */
  automation: AutomationSettings | undefined;
  policy: ProtectionPolicy;
  playbooks: Playbook[];
  breakers: BreakerRow[];
  otherActiveOwners: number;
  openPlans: PlanContext['openPlans'];
  now: Date;
  playbook?: Playbook;
  verdicts: Verdict[];
  status?: PlanStatus;
  /** Why the plan needs approval (kill switch, breaker, playbook mode). */
  holds: string[];
  /** A breaker this plan tripped (audited once, with the subject it held back). */
  tripped?: { scope: string; max_actions: number; window_seconds: number };
  /** The trips (by the id of the plan that tripped each breaker) that held this plan back. */
  heldBy: string[];
  /** The blast-radius caps an executing plan must hold a slot of, claimed with the suspension. */
  caps?: Cap[];
  /** Who submitted the signal: never an approver of the plan. */
  requestedBy: Actor;
  /** Set by execute: the suspension's outcome. */
  sessionsRevoked?: string[];
  /** An executed NHI action's own entries (response/nhi.ts), written with the plan's. */
  entries?: AuditEntryInput[];
  /** The containment record the executed suspension opened. */
  containmentId?: string;
  /** What a suspension would do on each remote target of its playbook's set (targets/steps.ts). */
  targets?: TargetPlan;
}

/** One named guard step; the pipeline is an array of them, in policy order. */
export interface GuardStep {
  name: StepName;
  run(draft: PlanDraft, db: Executor): Promise<Omit<Verdict, 'step'> & { status?: PlanStatus }>;
}

/** Exactly what an approval lets happen: the subject, the action and its arguments, and the versions it is under. */
export interface PlanAction {
  accountId: string;
  subjectUserId: string | null;
  /** A non-human subject (absent for a user's plan, so that its digest is what it always was). */
  subjectNhi?: NhiSubject | null;
  action: string;
  arguments: Record<string, unknown>;
  playbook: { name: string; version: number; contentHash: string } | null;
  policyVersion: number;
}

/** SHA-256 over the canonical JSON of a plan's exact action: what each approval is bound to. */
export function digestAction(a: PlanAction): string {
  const action = {
    account_id: a.accountId,
    subject_user_id: a.subjectUserId,
    ...(a.subjectNhi ? { subject_nhi: a.subjectNhi } : {}),
    action: a.action,
    arguments: a.arguments,
    playbook: a.playbook
      ? { name: a.playbook.name, version: a.playbook.version, content_hash: a.playbook.contentHash }
      : null,
    policy_version: a.policyVersion,
  };
  return createHash('sha256').update(canonicalJson(action)).digest('hex');
}

/**
 * The suspension arguments a playbook fixes, with the sorted ids of the remote targets its set holds now
 * (only when there are any, so that a digest without remote targets is what it always was).
 */
export function suspendArguments(
  playbook: Pick<Playbook, 'restoreAfterSeconds' | 'lock'> | undefined,
  targetIds: string[] = [],
): Record<string, unknown> {
  return {
    restore_after_seconds: playbook?.restoreAfterSeconds ?? null,
    lock: playbook?.lock ?? null,
    ...(targetIds.length > 0 ? { targets: [...targetIds].sort() } : {}),
  };
}

/** The digest of a draft plan's action. */
export function actionDigest(draft: PlanDraft): string {
  const playbook = draft.playbook;
  return digestAction({
    accountId: draft.accountId,
    subjectUserId: draft.subject?.id ?? null,
    subjectNhi: draft.nhi ?? null,
    action: playbook?.action ?? 'none',
    arguments: draft.nhi ? {} : suspendArguments(playbook, draft.targets?.targetIds),
    playbook: playbook ? { name: playbook.name, version: playbook.version, contentHash: playbook.contentHash } : null,
    policyVersion: draft.policy.version,
  });
}
