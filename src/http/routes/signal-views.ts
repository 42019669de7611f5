/**
 * The response engine's objects as the API shows them (signals, plans), shared by the intake, dry-run
 * and read routes.
 */
import { Type } from 'typebox';
import type { SignalRow } from '../../store/signals.js';

export const VerdictSchema = Type.Object({
  step: Type.String(),
  outcome: Type.Union([Type.Literal('pass'), Type.Literal('hold'), Type.Literal('stop')]),
  reason: Type.String(),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

export const PlanSchema = Type.Object(
  {
    id: Nullable(Type.String()),
    signal_id: Nullable(Type.String()),
    subject_user_id: Nullable(Type.String()),
    playbook: Type.Union([Type.Object({ name: Type.String(), version: Type.Integer() }), Type.Null()]),
    policy_version: Type.Integer(),
    action: Type.String(),
    mode: Nullable(Type.String()),
    status: Type.String({ description: 'executed, pending_approval, refused, duplicate, no_action, notified, failed, denied, expired or void; a dry run says would_execute' }),
    approvals_required: Type.Integer(),
    action_digest: Nullable(Type.String({ description: 'SHA-256 of the exact action an approval is bound to (pending plans)' })),
    restore_after_seconds: Type.Union([Type.Integer(), Type.Null()]),
    lock_containment: Type.Boolean({ description: "whether the containment a suspension opens holds against the Users API's :reactivate" }),
    containment_id: Nullable(Type.String({ description: 'an executed suspension: the containment it opened; a restore: the containment it restores' })),
    restore_reason: Nullable(Type.String()),
    requested_by: Type.Union([Type.Object({ type: Type.String(), id: Type.String(), made_by: Type.Optional(Type.String()) }), Type.Null()], {
      description: "who asked: never an approver of the plan (an app's request names its maker, who may not approve it either)",
    }),
    verdicts: Type.Array(VerdictSchema),
    create_time: Nullable(Type.String({ format: 'date-time' })),
    execute_time: Nullable(Type.String({ format: 'date-time' })),
    expire_time: Nullable(Type.String({ format: 'date-time', description: 'a pending plan expires, with its approvals, at this time' })),
    decide_time: Nullable(Type.String({ format: 'date-time' })),
  },
  { title: 'Plan' },
);

export const SignalSchema = Type.Object(
  {
    id: Type.String(),
    source_id: Type.String(),
    external_id: Type.String(),
    type: Type.String(),
    title: Type.String(),
    severity: Type.String(),
    confidence: Type.Number(),
    subject: Type.Record(Type.String(), Type.String()),
    tags: Type.Array(Type.String()),
    observed_time: Type.String({ format: 'date-time' }),
    receive_time: Type.String({ format: 'date-time' }),
    raw_truncated: Type.Boolean(),
  },
  { title: 'Signal' },
);

export function signalView(signal: SignalRow) {
  return {
    id: signal.id,
    source_id: signal.source_id,
    external_id: signal.external_id,
    type: signal.type,
    title: signal.title,
    severity: signal.severity,
    confidence: signal.confidence,
    subject: signal.subject,
    tags: signal.tags,
    observed_time: new Date(signal.observed_at).toISOString(),
    receive_time: new Date(signal.received_at).toISOString(),
    raw_truncated: signal.raw_truncated,
  };
}
