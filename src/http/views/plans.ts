/**
 * A plan as the API shows it, stored or dry run, with its guard verdicts: shared by the intake, dry-run,
 * automation, approval, containment and explain routes.
 */
import { Type, type Static } from 'typebox';
import { planRow, type DryRun } from '../../response/engine.js';
import type { PlanDraft } from '../../response/plan.js';
import type { PendingPlanRow, PlanRow } from '../../store/plans.js';

export const VerdictSchema = Type.Object({
  step: Type.String(),
  outcome: Type.Union([Type.Literal('pass'), Type.Literal('hold'), Type.Literal('stop')]),
  reason: Type.String(),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

/** A non-human subject: a leaked secret's owner (response/nhi.ts). */
export const NhiSubjectSchema = Type.Object(
  {
    type: Type.String({ description: 'app, source or session' }),
    id: Type.String(),
    token_hash: Type.String({ description: 'SHA-256 hex of the leaked secret' }),
    kind: Type.String({ description: 'cs, st, sh, sess, or et (an events token)' }),
    credential: Type.Optional(Type.Object({ type: Type.String(), id: Type.String() })),
    user_id: Type.Optional(Type.String({ description: "a session's user" })),
  },
  { title: 'NonHumanSubject' },
);

export const PlanSchema = Type.Object(
  {
    id: Nullable(Type.String()),
    signal_id: Nullable(Type.String()),
    subject_user_id: Nullable(Type.String()),
    subject_nhi: Type.Union([NhiSubjectSchema, Type.Null()]),
    playbook: Type.Union([Type.Object({ name: Type.String(), version: Type.Integer() }), Type.Null()]),
    policy_version: Type.Integer(),
    action: Type.String(),
    mode: Nullable(Type.String()),
    status: Type.String({
      description:
        'executed, pending_approval, refused, duplicate, no_action, notified, failed, denied, expired or void; a dry ' +
        'run says would_execute',
    }),
    approvals_required: Type.Integer(),
    action_digest: Nullable(
      Type.String({ description: 'SHA-256 of the exact action an approval is bound to (pending plans)' }),
    ),
    restore_after_seconds: Type.Union([Type.Integer(), Type.Null()]),
    lock_containment: Type.Boolean({
      description: "whether the containment a suspension opens holds against the Users API's :reactivate",
    }),
    containment_id: Nullable(
      Type.String({
        description: 'an executed suspension: the containment it opened; a restore: the containment it restores',
      }),
    ),
    restore_reason: Nullable(Type.String()),
    requested_by: Type.Union(
      [Type.Object({ type: Type.String(), id: Type.String(), made_by: Type.Optional(Type.String()) }), Type.Null()],
      {
        description:
          "who asked: never an approver of the plan (an app's request names its maker, who may not approve it either)",
      },
    ),
    verdicts: Type.Array(VerdictSchema),
    create_time: Nullable(Type.String({ format: 'date-time' })),
    execute_time: Nullable(Type.String({ format: 'date-time' })),
    expire_time: Nullable(
      Type.String({ format: 'date-time', description: 'a pending plan expires, with its approvals, at this time' }),
    ),
    decide_time: Nullable(Type.String({ format: 'date-time' })),
  },
  { title: 'Plan' },
);

/** The signal a dry run evaluated: the alert as its format's mapper normalised it (docs/siem/<format>.md). */
export const NormalisedSignalSchema = Type.Object(
  {
    source_id: Type.String(),
    external_id: Type.String(),
    type: Type.String(),
    title: Type.String(),
    severity: Type.String(),
    confidence: Type.Number(),
    subject: Type.Record(Type.String(), Type.String()),
    observed_time: Type.String({ format: 'date-time' }),
    tags: Type.Array(Type.String()),
    attributes: Type.Record(Type.String(), Type.String(), {
      description: 'what the alert said besides subject and type, e.g. an ECS rule_id (docs/siem/)',
    }),
  },
  { title: 'NormalisedSignal' },
);

export const DryRunSchema = Type.Object({
  signal: NormalisedSignalSchema,
  plan: PlanSchema,
  duplicate: Type.Boolean(),
});

/** A plan waiting for approval, as the approvals list shows it: with whom it is about and why. */
export const PendingPlanSchema = Type.Intersect([
  PlanSchema,
  Type.Object({
    approvals_given: Type.Integer({ description: 'approvals the plan holds so far, of approvals_required' }),
    subject: Type.Union([Type.Object({ email: Type.String(), display_name: Type.String() }), Type.Null()]),
    signal: Type.Union([
      Type.Object({ title: Type.String(), severity: Type.String(), source_id: Nullable(Type.String()) }),
      Type.Null(),
    ]),
  }),
]);

/** A stored time as the API shows it (ISO 8601), or null. */
export const isoOrNull = (time: Date | string | null) => (time === null ? null : new Date(time).toISOString());

/** A pending plan with its subject and signal (the approvals list). */
export function pendingPlanView(row: PendingPlanRow) {
  return {
    ...planView(row),
    approvals_given: row.approvals_given,
    subject:
      row.subject_email === null
        ? null
        : { email: row.subject_email, display_name: row.subject_name ?? row.subject_email },
    signal:
      row.signal_title === null
        ? null
        : { title: row.signal_title, severity: row.signal_severity ?? '', source_id: row.signal_source_id },
  };
}

/** A plan as the API shows it, from a stored row. */
export function planView(plan: PlanRow) {
  return {
    id: plan.id,
    signal_id: plan.signal_id,
    subject_user_id: plan.subject_user_id,
    subject_nhi: plan.subject_nhi,
    playbook: plan.playbook_name === null ? null : { name: plan.playbook_name, version: plan.playbook_version! },
    policy_version: plan.policy_version,
    action: plan.action,
    mode: plan.mode,
    status: plan.status,
    approvals_required: plan.approvals_required,
    action_digest: plan.action_digest,
    restore_after_seconds: plan.restore_after_seconds,
    lock_containment: plan.lock_containment,
    containment_id: plan.containment_id,
    restore_reason: plan.restore_reason,
    requested_by: plan.requested_by,
    verdicts: plan.verdicts as PlanDraft['verdicts'],
    create_time: new Date(plan.created_at).toISOString(),
    execute_time: isoOrNull(plan.executed_at),
    expire_time: isoOrNull(plan.expires_at),
    decide_time: isoOrNull(plan.decided_at),
  };
}

/**
 * A dry run's plan, in the same shape: no id and no times (it was never stored), and `would_execute`
 * where a real plan would have been executed.
 */
export function draftView(draft: PlanDraft) {
  const row = planRow(draft);
  const view = planView({
    ...row,
    subject_nhi: draft.nhi ?? null,
    verdicts: draft.verdicts,
    held_by: draft.heldBy,
    requested_by: draft.requestedBy,
    created_at: new Date(),
    executed_at: null,
  });
  const wouldExecute = draft.status === undefined && draft.verdicts.at(-1)?.step === 'execute';
  return {
    ...view,
    status: wouldExecute ? 'would_execute' : view.status,
    id: null,
    signal_id: null,
    requested_by: null,
    create_time: null,
    execute_time: null,
    expire_time: null,
  };
}

/** A dry run's answer: the normalised signal, the plan it would get, and whether it is a duplicate. */
export function dryRunView(dryRun: DryRun): Static<typeof DryRunSchema> {
  const { id: _id, source_id, subject, attributes, ...signal } = dryRun.draft.signal;
  return {
    signal: { source_id, ...signal, subject: { ...subject }, attributes: attributes ?? {} },
    plan: draftView(dryRun.draft),
    duplicate: dryRun.duplicate,
  };
}
