/**
 * The last steps of a plan that got through its guards: execute (through the directory service, as
 * Cordon's own responder principal, never with the detection source's credentials) and verify (the
 * user is suspended and holds no live session, read back in the same transaction, as the plan is recorded).
 */
import type { Transaction } from 'kysely';
import type { CallContext } from '../audit/entry.js';
import type { DirectoryDeps } from '../directory/deps.js';
import { changeLockedUserState } from '../directory/user-state.js';
import { isAppError } from '../errors.js';
import type { Database } from '../storage/schema.js';
import { claimSlot, releaseSlot, slotGate, type Cap, type Claim } from '../store/automation.js';
import { readStateAndLiveSessions } from '../store/users.js';
import { assignStepIds } from '../targets/steps.js';
import { approval } from './guards/approval.js';
import { reachedCap } from './guards/blast-radius.js';
import type { PlanDraft, Verdict } from './plan.js';

/** Cordon's execution principal, with the whole chain of cause in every entry it writes. */
export function responderContext(draft: PlanDraft, submittedBy: CallContext['actor']): CallContext {
  const playbook = draft.playbook;
  return {
    actor: { type: 'responder', id: 'cordon' },
    authz: {
      method: 'plan',
      plan_id: draft.id,
      ...(playbook ? { playbook: playbook.name, playbook_version: playbook.version } : {}),
      policy_version: draft.policy.version,
    },
    cause: {
      signal_id: draft.signal.id,
      source_id: draft.signal.source_id,
      external_id: draft.signal.external_id,
      signal_type: draft.signal.type,
      submitted_by: submittedBy,
      plan_id: draft.id,
      ...(playbook
        ? { playbook: playbook.name, playbook_version: playbook.version, playbook_hash: playbook.contentHash }
        : {}),
      policy_version: draft.policy.version,
      // Each guard's outcome by step; the plan (and its plan.create entry) keeps the full verdicts.
      verdicts: Object.fromEntries(draft.verdicts.map((v) => [v.step, v.outcome])),
    },
  };
}

/**
 * Executes a plan that passed its guards. The blast-radius slots are claimed in the suspension's own
 * statement (a gate); when that finds no free slot among its probes, the slots it took go back and the
 * claim is made the thorough way (claimSlot: making missing slots, a fresh snapshot), and if a cap is
 * truly reached the plan goes back to the blast-radius and approval steps, held: then this returns
 * undefined and the plan is pending.
 */
export async function execute(
  deps: DirectoryDeps,
  trx: Transaction<Database> | undefined,
  draft: PlanDraft,
  ctx: CallContext,
): Promise<Verdict | undefined> {
  const subject = draft.subject!;
  if (draft.playbook!.action === 'notify') {
    draft.status = 'notified';
    return { step: 'execute', outcome: 'pass', reason: 'notify: recorded, nothing changed' };
  }
  if (subject.state === 'SUSPENDED') {
    draft.status = 'no_action';
    return { step: 'execute', outcome: 'stop', reason: 'the subject is already suspended' };
  }
  const targets = draft.targets?.items.length ? { targets: draft.targets.items } : {};
  if (!trx)
    return {
      step: 'execute',
      outcome: 'pass',
      reason: 'dry run: would suspend',
      details: { user_id: subject.id, ...targets },
    };
  try {
    const caps = draft.caps ?? [];
    const containment = {
      planId: draft.id,
      locked: draft.playbook!.lock,
      restoreAfterSeconds: draft.playbook!.restoreAfterSeconds,
    };
    let result = await changeLockedUserState(
      deps,
      trx,
      ctx,
      subject,
      'SUSPENDED',
      caps.length > 0 ? { containment, precondition: slotGate(draft.accountId, caps, draft.id) } : { containment },
    );
    if (result.unmet) {
      for (const claim of result.unmet) await releaseSlot(trx, draft.accountId, claim);
      const claimed: Claim[] = [];
      for (const cap of caps) {
        const claim = await claimSlot(trx, draft.accountId, cap, draft.id);
        if (claim) {
          claimed.push(claim);
          continue;
        }
        for (const c of claimed) await releaseSlot(trx, draft.accountId, c);
        await sendBackToApproval(draft, trx, cap);
        return undefined;
      }
      result = await changeLockedUserState(deps, trx, ctx, subject, 'SUSPENDED', { containment });
    }
    draft.sessionsRevoked = result.sessionsRevoked;
    if (result.containmentId) draft.containmentId = result.containmentId;
    draft.status = 'executed';
    // The steps are written once the plan is recorded (engine.ts); the verdict names them already.
    if (draft.targets) assignStepIds(draft.targets);
    return {
      step: 'execute',
      outcome: 'pass',
      reason: 'suspended',
      details: {
        user_id: subject.id,
        sessions_revoked: result.sessionsRevoked.length,
        containment_id: result.containmentId,
        ...targets,
      },
    };
  } catch (error) {
    // The guards check everything the directory refuses, so this is a rule the guards do not know yet.
    if (!isAppError(error)) throw error;
    draft.status = 'failed';
    return {
      step: 'execute',
      outcome: 'stop',
      reason: `the directory refused: ${error.code}`,
      details: { code: error.code },
    };
  }
}

/** A cap turned out reached at execution: the blast-radius verdict becomes the hold, and approval decides again. */
async function sendBackToApproval(draft: PlanDraft, trx: Transaction<Database>, cap: Cap): Promise<void> {
  const at = draft.verdicts.findIndex((v) => v.step === 'blast-radius');
  draft.verdicts.splice(at);
  draft.verdicts.push({ step: 'blast-radius', ...(await reachedCap(draft, trx, cap)) });
  const { status, ...verdict } = await approval.run(draft, trx);
  draft.verdicts.push({ step: 'approval', ...verdict });
  draft.status = status!;
}

/** The verify verdict of a suspension that took (insertPlanWithEntries checks it as it records the plan). */
export const VERIFIED: Verdict = { step: 'verify', outcome: 'pass', reason: 'suspended, no live session' };

/** The verify verdict when the check failed: what the user's state and sessions are. */
export async function verificationFailure(trx: Transaction<Database>, draft: PlanDraft): Promise<Verdict> {
  const now = await readStateAndLiveSessions(trx, draft.accountId, draft.subject!.id);
  draft.status = 'failed';
  return {
    step: 'verify',
    outcome: 'stop',
    reason: 'the suspension did not take',
    details: { state: now?.state ?? 'missing', live_sessions: now?.live_sessions ?? 0 },
  };
}
