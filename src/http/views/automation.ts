/**
 * The account's automation controls as the API shows them: the kill switch, the blast-radius cap with
 * the tripped breakers and whom each holds back, and the restore policy.
 */
import { Type, type Static } from 'typebox';
import type { EngineDefaults } from '../../response/plan.js';
import { listBreakers, readAutomation, type AutomationSettings } from '../../store/automation.js';
import type { Executor } from '../../store/executor.js';
import { findPeople } from '../../store/people.js';
import { listHeldSubjects } from '../../store/plans.js';
import { PeopleSchema } from './people.js';

export const AutomationSchema = Type.Object(
  {
    paused: Type.Boolean(),
    pause_time: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    paused_by: Type.Union([Type.String(), Type.Null()]),
    pause_reason: Type.Union([Type.String(), Type.Null()]),
    breaker_cap: Type.Object({ max_actions: Type.Integer(), window_seconds: Type.Integer() }),
    tripped_breakers: Type.Array(
      Type.Object({
        scope: Type.String(),
        trip_time: Type.String({ format: 'date-time' }),
        trip_plan_id: Type.String(),
        max_actions: Type.Integer(),
        window_seconds: Type.Integer(),
        held_user_ids: Type.Array(Type.String()),
      }),
    ),
    people: PeopleSchema,
  },
  { title: 'Automation' },
);

export const RestorePolicySchema = Type.Object({
  restore_approvals: Type.Integer(),
  approver_group_id: Type.Union([Type.String(), Type.Null()]),
});

/** The automation settings of an account, read now (with the account's defaults where it set none). */
export async function automationView(
  db: Executor,
  accountId: string,
  defaults: EngineDefaults,
): Promise<Static<typeof AutomationSchema>> {
  const [settings, breakers] = [await readAutomation(db, accountId), await listBreakers(db, accountId)];
  const tripped = await Promise.all(
    breakers.map(async (b) => ({
      scope: b.scope,
      trip_time: new Date(b.tripped_at).toISOString(),
      trip_plan_id: b.trip_plan_id,
      max_actions: b.max_actions,
      window_seconds: b.window_seconds,
      held_user_ids: await listHeldSubjects(db, accountId, b.trip_plan_id),
    })),
  );
  const named = [settings.paused_by?.replace(/^user:/, '') ?? '', ...tripped.flatMap((b) => b.held_user_ids)];
  return {
    paused: settings.paused_at !== null,
    pause_time: settings.paused_at === null ? null : new Date(settings.paused_at).toISOString(),
    paused_by: settings.paused_by,
    pause_reason: settings.pause_reason,
    breaker_cap: {
      max_actions: settings.breaker_max_actions ?? defaults.breakerMaxActions,
      window_seconds: settings.breaker_window_seconds ?? defaults.breakerWindowSeconds,
    },
    tripped_breakers: tripped,
    people: await findPeople(db, accountId, named),
  };
}

export function restorePolicyView(settings: AutomationSettings): Static<typeof RestorePolicySchema> {
  return { restore_approvals: settings.restore_approvals, approver_group_id: settings.approver_group_id };
}
