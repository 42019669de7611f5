/**
 * Approvals and containments as the API shows them: a plan with its people's decisions, a containment
 * record, and the answer of a restore.
 */
import { Type, type Static } from 'typebox';
import type { RestoreReport } from '../../response/restores.js';
import type { DecisionRow } from '../../store/approvals.js';
import type { ContainmentRow } from '../../store/containments.js';
import type { PlanRow } from '../../store/plans.js';
import type { StepWithTarget } from '../../store/steps.js';
import { isoOrNull, NhiSubjectSchema, PlanSchema, planView } from './plans.js';

const Time = Type.String({ format: 'date-time' });
const NullableTime = Type.Union([Time, Type.Null()]);

export const DecisionSchema = Type.Object(
  {
    approver_id: Type.String(),
    decision: Type.String(),
    reason: Type.String(),
    action_digest: Type.String(),
    decide_time: Time,
  },
  { title: 'Decision' },
);
export const PlanWithDecisionsSchema = Type.Object({ plan: PlanSchema, decisions: Type.Array(DecisionSchema) });

export const StepSchema = Type.Object(
  {
    id: Type.String(),
    target_id: Type.String(),
    target_name: Type.String(),
    kind: Type.String(),
    operation: Type.String({ description: 'suspend or reactivate' }),
    status: Type.String({ description: 'pending, verified, failed, protected, gone or cancelled' }),
    external_id: Type.Union([Type.String(), Type.Null()]),
    attempts: Type.Integer(),
    observed_state: Type.Union([Type.String(), Type.Null()]),
    drift: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    last_error: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    create_time: Time,
    finish_time: NullableTime,
  },
  { title: 'TargetStep' },
);

export const ContainmentSchema = Type.Object(
  {
    id: Type.String(),
    user_id: Type.Union([Type.String(), Type.Null()], {
      description: 'the suspended user (null: a non-human identity)',
    }),
    subject_nhi: Type.Union([NhiSubjectSchema, Type.Null()], {
      description: "a leaked secret's owner: an app, a signal source or a session",
    }),
    action: Type.Union([Type.String(), Type.Null()], {
      description: "a non-human identity's: disable_app, rotate_secret or revoke_tokens",
    }),
    details: Type.Record(Type.String(), Type.Unknown(), {
      description:
        "a non-human identity's: the leak (url, time, report), what was revoked (jtis and counts), what the app " +
        'changed in the hour before the leak',
    }),
    new_secret_waiting: Type.Boolean({
      description: 'a new secret waits to be read once by an OWNER or ADMIN (POST …:read-secret)',
    }),
    plan_id: Type.Union([Type.String(), Type.Null()]),
    locked: Type.Boolean(),
    status: Type.String({ description: 'open or closed' }),
    snapshot: Type.Union(
      [
        Type.Object({
          state: Type.String(),
          role: Type.String(),
          group_ids: Type.Array(Type.String()),
          sessions_revoked: Type.Array(Type.String()),
        }),
        Type.Null(),
      ],
      { description: "the user as the suspension found them (null: a non-human identity's record)" },
    ),
    cause: Type.Record(Type.String(), Type.Unknown()),
    opened_by: Type.Record(Type.String(), Type.Unknown()),
    open_time: Time,
    restore_after_time: NullableTime,
    restore_request_time: NullableTime,
    close_reason: Type.Union([Type.String(), Type.Null()], {
      description: 'restored, false_positive, reactivated (Users API) or released (containments:release)',
    }),
    closed_by: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    close_time: NullableTime,
    targets_state: Type.Union([Type.String(), Type.Null()], {
      description:
        'null without remote steps; in_progress, contained, partial (a step failed or the target protected the ' +
        'user), then restoring, restored or restore_partial',
    }),
    steps: Type.Array(StepSchema),
  },
  { title: 'Containment' },
);

export const RestoreResultSchema = Type.Object({
  status: Type.String({ description: 'restored, or pending_approval (the restore policy needs more people)' }),
  plan: PlanSchema,
  containment: ContainmentSchema,
  drift: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  verification: Type.Union([Type.Record(Type.String(), Type.Boolean()), Type.Null()]),
  voided_plans: Type.Array(Type.String()),
  targets: Type.Array(Type.Record(Type.String(), Type.Unknown()), {
    description: 'per remote target: the reactivate step written (see the containment steps), or why none',
  }),
});

/** A containment record: the snapshot taken at the suspension, who opened it and why, and how it closed. */
export function containmentView(c: ContainmentRow, steps: StepWithTarget[] = []): Static<typeof ContainmentSchema> {
  return {
    id: c.id,
    user_id: c.user_id,
    subject_nhi: c.subject_nhi,
    action: c.action,
    details: c.details,
    new_secret_waiting: c.secret_enc !== null,
    plan_id: c.plan_id,
    locked: c.locked,
    status: c.status,
    snapshot: c.user_id === null ? null : c.snapshot,
    cause: c.cause,
    opened_by: c.opened_by,
    open_time: new Date(c.opened_at).toISOString(),
    restore_after_time: isoOrNull(c.restore_after),
    restore_request_time: isoOrNull(c.restore_requested_at),
    close_reason: c.close_reason,
    closed_by: c.closed_by,
    close_time: isoOrNull(c.closed_at),
    targets_state: c.targets_state,
    steps: steps.filter((s) => s.containment_id === c.id).map(stepView),
  };
}

export const stepView = (s: StepWithTarget): Static<typeof StepSchema> => ({
  id: s.id,
  target_id: s.target_id,
  target_name: s.target_name,
  kind: s.kind,
  operation: s.operation,
  status: s.status,
  external_id: s.external_id,
  attempts: s.attempts,
  observed_state: s.observed_state,
  drift: s.drift,
  last_error: s.last_error,
  create_time: new Date(s.created_at).toISOString(),
  finish_time: isoOrNull(s.finished_at),
});

export const decisionView = (d: DecisionRow): Static<typeof DecisionSchema> => ({
  approver_id: d.approver_id,
  decision: d.decision,
  reason: d.reason,
  action_digest: d.action_digest,
  decide_time: new Date(d.created_at).toISOString(),
});

/** A plan with its people's decisions. */
export function planWithDecisionsView(plan: PlanRow, decisions: DecisionRow[]): Static<typeof PlanWithDecisionsSchema> {
  return { plan: planView(plan), decisions: decisions.map(decisionView) };
}

/** A restore's answer: restored (with the drift and the verification), or waiting for more people. */
export function restoreResultView(
  status: string,
  plan: PlanRow,
  containment: ContainmentRow,
  report: RestoreReport | undefined,
  steps: StepWithTarget[] = [],
): Static<typeof RestoreResultSchema> {
  return {
    status,
    plan: planView(plan),
    containment: containmentView(containment, steps),
    drift: report?.drift ?? null,
    verification: report?.verification ?? null,
    voided_plans: report?.voided_plans ?? [],
    targets: (report?.targets.items ?? []) as unknown as Array<Record<string, unknown>>,
  };
}
