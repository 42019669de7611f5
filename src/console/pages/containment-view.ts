/**
 * A containment record as its console page shows it: who and why, the snapshot a restore goes back to,
 * drift (since the snapshot while open; what the restore reported once restored), the per-target steps,
 * the restore forms (or the restore plan that waits for approvals), and the explain chain. A leaked
 * secret's record (a non-human identity) shows what nhi-containment-view.ts renders instead of the user's
 * snapshot and drift, with the same restore forms.
 */
import type { Explanation } from '../../response/explain.js';
import type { ContainmentRow, RestoreState } from '../../store/containments.js';
import type { NhiOwner } from '../../store/nhi-names.js';
import type { PlanRow } from '../../store/plans.js';
import type { StepWithTarget } from '../../store/steps.js';
import { html, str, table, time, type Html } from '../html.js';
import { csrfField } from '../layout.js';
import type { ConsolePerson } from '../session.js';
import { actorLink, explainSection } from './explain-view.js';
import { nhiRestoreWhy, nhiSections, nhiSummary } from './nhi-containment-view.js';

export interface ContainmentPage {
  containment: ContainmentRow;
  /** The subject now (undefined once deleted). */
  subject: (RestoreState & { user: { email: string; display_name: string } }) | undefined;
  /** Names of the groups the snapshot and the subject name. */
  groups: Map<string, string>;
  steps: StepWithTarget[];
  /** Restore plans that ran or wait, newest first. */
  restorePlans: PlanRow[];
  /** How many people a restore needs (the account's restore policy). */
  restoreApprovals: number;
  explanation: Explanation;
  /** A non-human identity's owner as it is now (its record has no user). */
  owner?: NhiOwner | undefined;
}

interface Drift {
  role: { snapshot: string; now: string } | null;
  groups_removed: string[];
  groups_added: string[];
}

const compact = (value: unknown): string => (value === null || value === undefined ? '' : JSON.stringify(value));

function groupList(ids: readonly string[], names: Map<string, string>): Html | string {
  if (ids.length === 0) return html`<span class="muted">none</span>`;
  return ids
    .map((id) => names.get(id) ?? id)
    .sort()
    .join(', ');
}

/** What a responder wants to know first: is the subject contained everywhere, or back. */
function stateOf(c: ContainmentPage['containment']): string {
  if (c.status !== 'open')
    return c.targets_state === 'restore_partial' ? 'restored here, not on every target' : (c.close_reason ?? 'closed');
  switch (c.targets_state) {
    case null:
    case 'contained':
      return 'contained';
    case 'in_progress':
      return 'contained here, remote steps in progress';
    case 'partial':
      return 'partially contained: a remote step did not verify';
    default:
      return c.targets_state;
  }
}

function summary(page: ContainmentPage): Html {
  const c = page.containment;
  const user = page.subject?.user;
  const cause = c.cause;
  return html`<dl class="facts">
    <dt>User</dt>
    <dd>
      <a href="/console/users/${c.user_id}">${user ? `${user.display_name} <${user.email}>` : c.user_id}</a>
      ${page.subject && html`<span class="muted">now ${page.subject.state}</span>`}
    </dd>
    <dt>State</dt>
    <dd class="containment-state">${stateOf(c)}</dd>
    <dt>Status</dt>
    <dd>
      <span class="badge ${c.status === 'open' ? 'bad' : 'good'}">${c.status}</span>
      ${c.locked && html`<span class="badge warn">locked</span>`}
    </dd>
    <dt>Targets</dt>
    <dd>${c.targets_state ?? html`<span class="muted">no remote step</span>`}</dd>
    <dt>Opened</dt>
    <dd>${time(c.opened_at)} by ${actorLink(c.opened_by['actor'] as { type: string; id: string } | undefined)}</dd>
    <dt>Cause</dt>
    <dd>
      ${
        typeof cause['plan_id'] === 'string'
          ? html`plan <a href="/console/plans/${cause['plan_id']}">${cause['plan_id']}</a>`
          : compact(cause)
      }
      ${
        typeof cause['playbook'] === 'string' &&
        html`, playbook ${cause['playbook']} v${str(cause['playbook_version'])}`
      }
    </dd>
    ${
      c.restore_after &&
      html`<dt>Restore after</dt>
        <dd>${time(c.restore_after)}</dd>`
    }
    ${
      c.status === 'closed' &&
      html`<dt>Closed</dt>
        <dd>
          ${time(c.closed_at)}: ${c.close_reason}
          ${c.closed_by && html` by ${actorLink(c.closed_by['actor'] as { type: string; id: string } | undefined)}`}
        </dd>`
    }
  </dl>`;
}

function snapshotSection(page: ContainmentPage): Html {
  const s = page.containment.snapshot;
  return html`<section class="card" aria-labelledby="snapshot">
    <h2 id="snapshot">Snapshot: the state a restore goes back to</h2>
    <dl class="facts">
      <dt>State</dt>
      <dd>${s.state}</dd>
      <dt>Role</dt>
      <dd>${s.role}</dd>
      <dt>Groups</dt>
      <dd>${groupList(s.group_ids, page.groups)}</dd>
      <dt>Sessions revoked</dt>
      <dd>${s.sessions_revoked.length}</dd>
    </dl>
  </section>`;
}

/** Drift as restores.ts computes it: the role, and memberships removed or added since the snapshot. */
function driftOf(page: ContainmentPage): { drift: Drift; when: string } | undefined {
  const c = page.containment;
  if (c.status === 'open') {
    const now = page.subject;
    if (!now) return undefined;
    const s = c.snapshot;
    return {
      when: 'Since the snapshot (what a restore would report now)',
      drift: {
        role: s.role === now.role ? null : { snapshot: s.role, now: now.role },
        groups_removed: s.group_ids.filter((g) => !now.group_ids.includes(g)),
        groups_added: now.group_ids.filter((g) => !s.group_ids.includes(g)),
      },
    };
  }
  const executed = page.restorePlans.find((p) => p.status === 'executed');
  const verdict = (executed?.verdicts as Array<{ step?: string; details?: { drift?: Drift } }> | undefined)?.find(
    (v) => v.step === 'execute',
  );
  return verdict?.details?.drift ? { when: 'At the restore', drift: verdict.details.drift } : undefined;
}

function driftSection(page: ContainmentPage): Html {
  const found = driftOf(page);
  const stepDrift = page.steps.filter((s) => s.drift !== null);
  const body = found
    ? html`<p>${found.when}:</p>
        <dl class="facts">
          <dt>Role</dt>
          <dd>${found.drift.role ? `${found.drift.role.snapshot} → ${found.drift.role.now}` : 'unchanged'}</dd>
          <dt>Groups removed</dt>
          <dd>${groupList(found.drift.groups_removed, page.groups)}</dd>
          <dt>Groups added</dt>
          <dd>${groupList(found.drift.groups_added, page.groups)}</dd>
        </dl>
        <p class="muted">
          A restore keeps memberships as they are now: one removed during the containment stays removed.
        </p>`
    : html`<p class="muted">No restore report: the record closed ${page.containment.close_reason ?? ''}.</p>`;
  return html`<section class="card" aria-labelledby="drift">
    <h2 id="drift">Drift</h2>
    ${body} ${stepDrift.map((s) => html`<p>On ${s.target_name} (${s.operation}): <code>${compact(s.drift)}</code></p>`)}
  </section>`;
}

function stepsSection(steps: StepWithTarget[]): Html {
  if (steps.length === 0) return html``;
  return html`<section class="card" aria-labelledby="steps">
    <h2 id="steps">Steps per target</h2>
    ${table(
      ['Target', 'Operation', 'Status', 'Remote id', 'Attempts', 'Observed', 'Last error', 'Started', 'Finished'],
      steps.map((s) => [
        html`${s.target_name} <span class="muted">(${s.kind})</span>`,
        s.operation,
        s.status,
        s.external_id ?? '—',
        s.attempts,
        s.observed_state ?? '—',
        s.last_error ? html`<code>${compact(s.last_error)}</code>` : '—',
        time(s.created_at),
        time(s.finished_at),
      ]),
    )}
  </section>`;
}

function restoreForm(person: ConsolePerson, c: ContainmentRow, reason: 'restored' | 'false_positive'): Html {
  const id = c.id;
  const button =
    reason === 'restored'
      ? html`<button type="submit">Restore</button>`
      : html`<button class="secondary" type="submit">Undo a false positive</button>`;
  const why = c.subject_nhi
    ? nhiRestoreWhy(c.subject_nhi, reason)
    : reason === 'restored'
      ? 'The containment did its work: reactivate the user as they are now.'
      : 'The signal was wrong: reactivate the user, mark the signal a false positive and free its breaker slot.';
  return html`<form class="stack" method="post" action="/console/containments/${id}/restore">
    ${csrfField(person)}<input type="hidden" name="reason" value="${reason}" />
    <p>${why}</p>
    <p>${button}</p>
  </form>`;
}

function restoreSection(person: ConsolePerson, page: ContainmentPage): Html {
  const c = page.containment;
  const pending = page.restorePlans.find((p) => p.status === 'pending_approval');
  let body: Html;
  const executed = page.restorePlans.find((p) => p.status === 'executed');
  if (c.status !== 'open')
    body = executed
      ? html`<p>
          ${executed.restore_reason === 'false_positive' ? 'Undone as a false positive' : 'Restored'} through
          <a href="/console/plans/${executed.id}">plan ${executed.id}</a>, asked by ${actorLink(executed.requested_by)}.
        </p>`
      : html`<p class="muted">Closed: nothing to restore.</p>`;
  else if (pending)
    body = html`<p>
      A ${pending.restore_reason === 'false_positive' ? 'false-positive undo' : 'restore'} waits for approvals
      (${pending.approvals_required} needed, until ${time(pending.expires_at)}):
      <a href="/console/plans/${pending.id}">plan ${pending.id}</a>.
    </p>`;
  else if (person.session.user_id === (c.user_id ?? c.subject_nhi?.user_id))
    body = html`<p class="muted">Nobody restores themselves: another person decides.</p>`;
  else
    body = html`${
      page.restoreApprovals > 1 &&
      html`<p>
        The restore policy needs ${page.restoreApprovals} people: yours counts as the first, and the restore then waits
        for the others' approvals.
      </p>`
    }
    ${restoreForm(person, c, 'restored')} ${restoreForm(person, c, 'false_positive')}`;
  return html`<section class="card" aria-labelledby="restore">
    <h2 id="restore">Restore</h2>
    ${body}
  </section>`;
}

/** The page's body. */
export function containmentBody(person: ConsolePerson, page: ContainmentPage): Html {
  const c = page.containment;
  if (c.subject_nhi) {
    const { secret, rest } = nhiSections(person, c);
    return html`${nhiSummary(c, page.owner!)} ${secret} ${restoreSection(person, page)} ${rest}
    ${explainSection(page.explanation)}`;
  }
  return html`${summary(page)} ${restoreSection(person, page)} ${snapshotSection(page)} ${driftSection(page)}
  ${stepsSection(page.steps)} ${explainSection(page.explanation)}`;
}
