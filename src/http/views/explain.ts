/**
 * The chain behind an action as the API shows it (response/explain.ts assembles it): the plan rendered as
 * everywhere else, the entries and the proof as plain objects.
 */
import { Type } from 'typebox';
import type { Explanation } from '../../response/explain.js';
import { NhiSubjectSchema, PlanSchema, planView } from './plans.js';

const Obj = Type.Record(Type.String(), Type.Unknown());
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const Count = (key: 'jtis' | 'ids', description: string) =>
  Type.Object({ count: Type.Integer(), [key]: Type.Array(Type.String(), { description }) });

/** A non-human subject's leak and containment (response/explain-nhi.ts). */
const NhiExplanationSchema = Type.Object(
  {
    subject: NhiSubjectSchema,
    owner: Nullable(
      Type.Object(
        { name: Type.String(), client_id: Nullable(Type.String()), disabled: Type.Boolean() },
        { description: 'the app or source now (null: a session, or gone)' },
      ),
    ),
    action: Nullable(Type.String({ description: 'rotate_secret, disable_app, revoke_tokens or notify' })),
    leak: Type.Object({
      report: Nullable(Type.String({ description: 'the SHA-256 of the signed leak report' })),
      url: Nullable(Type.String({ description: 'where the secret was found' })),
      observed_at: Nullable(Type.String()),
      token_type: Nullable(Type.String({ description: "the code host's name for the secret's type" })),
    }),
    contained: Nullable(
      Type.Object(
        {
          revoked: Type.Object({
            access_tokens: Count('jtis', 'the jtis of the live access tokens revoked'),
            events_tokens: Count('ids', 'the ids of the events tokens revoked'),
            sessions: Count('ids', 'the ids of the sessions ended'),
          }),
          disabled: Type.Boolean(),
          secret_replaced: Type.Boolean(),
          new_secret_waiting: Type.Boolean({ description: 'a new secret waits to be read once (…:read-secret)' }),
          app_changes_before: Nullable(
            Type.Object({
              since: Type.String(),
              count: Type.Integer(),
              listed: Type.Array(
                Type.Object({
                  action: Type.String(),
                  target: Type.Object({ type: Type.String(), id: Type.String() }),
                  at: Type.String(),
                }),
              ),
            }),
          ),
          restore: Nullable(Type.Object({ secret_replaced: Type.Boolean() })),
        },
        { description: 'what the containment record says was done (null: nothing was contained)' },
      ),
    ),
  },
  { title: 'NonHumanContainment' },
);

export const ExplanationSchema = Type.Object(
  {
    id: Type.String(),
    kind: Type.String({ description: 'plan, containment, signal or audit_entry: what the id named' }),
    signal: Nullable(Obj),
    submitted_by: Nullable(
      Type.Object({
        actor: Type.Object({ type: Type.String(), id: Type.String() }),
        authz: Obj,
        index: Type.Integer(),
      }),
    ),
    playbook: Nullable(
      Type.Object({ name: Type.String(), version: Type.Integer(), content_hash: Nullable(Type.String()) }),
    ),
    plan: Nullable(PlanSchema),
    approvals: Type.Array(
      Type.Object({ approver_id: Type.String(), decision: Type.String(), reason: Type.String(), time: Type.String() }),
    ),
    action: Nullable(Obj),
    outcome: Type.Object({
      plan_status: Nullable(Type.String()),
      user_id: Nullable(Type.String()),
      user_state: Nullable(Type.String()),
      containment: Nullable(Obj),
    }),
    targets: Type.Array(
      Type.Object({
        target_id: Type.String(),
        name: Type.String(),
        kind: Type.String(),
        steps: Type.Array(
          Type.Object({
            id: Type.String(),
            operation: Type.String(),
            status: Type.String(),
            attempts: Type.Array(
              Type.Object({
                index: Type.Union([Type.Integer(), Type.Null()], {
                  description: 'the audit index of its target.attempt entry (null until numbered)',
                }),
                attempt: Type.Integer(),
                outcome: Type.String(),
                status: Type.Union([Type.Integer(), Type.Null()]),
                latency_ms: Type.Union([Type.Number(), Type.Null()]),
              }),
            ),
          }),
        ),
      }),
    ),
    nhi: Nullable(NhiExplanationSchema),
    proof: Nullable(
      Type.Object({
        entry: Obj,
        tree_size: Type.Integer(),
        leaf_hash: Type.String(),
        inclusion_path: Type.Array(Type.String()),
        signed_note: Type.String(),
        origin: Type.String(),
        verifier_key: Type.String(),
      }),
    ),
  },
  { title: 'Explanation' },
);

export type ExplanationView = ReturnType<typeof explanationView>;

export function explanationView(explanation: Explanation) {
  return {
    ...explanation,
    plan: explanation.plan && planView(explanation.plan),
    action: explanation.action && { ...explanation.action },
    proof: explanation.proof && { ...explanation.proof, entry: { ...explanation.proof.entry } },
  };
}
