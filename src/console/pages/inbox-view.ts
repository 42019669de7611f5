/**
 * A plan as the approvals inbox and the plan page show it: who it is about, what it will do on each
 * target, the signal and playbook behind it, every guard verdict, who asked, when it expires, and the
 * approvals it has and needs.
 */
import { identityRefusal } from '../../response/approvers.js';
import type { InboxPlan, InboxTargetLine } from '../../store/inbox.js';
import { html, json, str, table, time, type Html, type TableOptions } from '../html.js';

const SEVERITY: Record<string, string> = { critical: 'bad', high: 'bad', medium: 'warn' };
const OUTCOME: Record<string, string> = { pass: 'good', hold: 'warn', stop: 'warn' };
const STATUS: Record<string, string> = { executed: 'good', pending_approval: 'warn', denied: 'bad', failed: 'bad' };

export const badge = (text: string, kind: string | undefined): Html =>
  html`<span class="badge${kind ? ` ${kind}` : ''}">${text}</span>`;

export const statusBadge = (status: string): Html => badge(status.replace('_', ' '), STATUS[status]);

/** Why the person `userId` may not decide the plan, in words; undefined when they may. */
export function whyNotDecide(plan: InboxPlan, userId: string, now = Date.now()): string | undefined {
  if (plan.status !== 'pending_approval') return `This plan is ${plan.status.replace('_', ' ')}: nothing to decide.`;
  if (plan.expires_at !== null && new Date(plan.expires_at).getTime() <= now) return 'This plan has expired.';
  const why = identityRefusal(userId, plan.subject_user_id, plan.requested_by);
  if (why?.startsWith('subject')) return 'You are the subject of this plan: other people decide it.';
  if (why !== undefined) return 'You asked for this plan: other people decide it.';
  if (plan.decisions.some((d) => d.approver_id === userId))
    return 'You have decided this plan; any further approval must come from someone else.';
  return undefined;
}

function subjectLink(plan: InboxPlan): Html {
  const s = plan.subject;
  if (!s) return html`<span class="muted">${plan.subject_user_id ?? 'nobody'}</span>`;
  return html`<a href="/console/users/${s.id}">${s.name}</a> &lt;${s.email}&gt;`;
}

/** The plan's headline: what it does to whom. */
export function headline(plan: InboxPlan): Html {
  if (plan.action === 'restore')
    return html`Restore ${subjectLink(plan)}${plan.restore_reason === 'false_positive' ? ' (false positive)' : ''}`;
  if (plan.action === 'suspend') return html`Suspend ${subjectLink(plan)}`;
  return html`${plan.action} ${subjectLink(plan)}`;
}

/** What the plan does in Cordon itself, then on each remote target. */
function targetRows(plan: InboxPlan): Html {
  const local =
    plan.action === 'restore'
      ? 'reactivate the user, restoring the role and groups from the containment snapshot'
      : plan.action === 'suspend'
        ? 'suspend the user and revoke every session'
        : 'nothing';
  const executed = plan.verdicts.find((v) => v.step === 'execute')?.details?.targets;
  const remote: InboxTargetLine[] =
    plan.targets.length > 0 || !Array.isArray(executed) ? plan.targets : (executed as InboxTargetLine[]);
  const cordon = html`<tr>
    <td>cordon</td>
    <td>${local}</td>
    <td class="muted">this directory</td>
  </tr>`;
  const rows = remote.map((t) => [
    html`${t.target} ${t.kind && html`<span class="muted">(${t.kind})</span>`}`,
    t.would,
    html`${t.external_id ?? ''} ${t.reason && html`<span class="muted">${t.reason}</span>`}`,
  ]);
  return table(['Target', 'Will do', 'Identity / why'], [cordon, ...rows], {
    caption: { text: 'What it will do on each target', hidden: true },
  });
}

/** A guard verdict as a plan, a dry run or an explanation holds it. */
export interface Verdict {
  step?: unknown;
  outcome?: unknown;
  reason?: unknown;
}

/**
 * Guard verdicts, a row each (a plan's, a dry run's, an explanation's); `badges` colours each verdict,
 * `outcome` names its column (Verdict).
 */
export function verdictsTable(
  verdicts: readonly Verdict[],
  options: Pick<TableOptions, 'caption' | 'empty'> & { badges?: boolean; outcome?: string } = {},
): Html {
  const outcome = (v: Verdict) => (options.badges ? badge(str(v.outcome), OUTCOME[str(v.outcome)]) : str(v.outcome));
  const rows = verdicts.map((v) => [str(v.step), outcome(v), str(v.reason)]);
  return table(['Step', options.outcome ?? 'Verdict', 'Reason'], rows, options);
}

function requester(plan: InboxPlan): Html {
  const by = plan.requested_by;
  const who = plan.requester;
  if (!by) return html`<span class="muted">the restore-after schedule</span>`;
  if (by.type === 'user') return html`${who?.name ?? by.id} ${who?.email && html`&lt;${who.email}&gt;`}`;
  if (by.type === 'app')
    return html`app ${who?.name ?? by.id}
    ${who?.maker_name && html`<span class="muted">(made by ${who.maker_name})</span>`}`;
  return html`${by.type} ${by.id}`;
}

function approvals(plan: InboxPlan): Html {
  const yes = plan.decisions.filter((d) => d.decision === 'approve');
  const names = yes.map((d) => d.name ?? d.approver_id).join(', ');
  return html`<span class="approvals">${yes.length} of ${plan.approvals_required}</span>
    ${names && html`<span class="muted">(${names})</span>`}`;
}

/** The raw alert: inline (the plan page), or fetched when the person opens it (the inbox). */
function rawAlert(plan: InboxPlan, inline: boolean): Html {
  if (!plan.signal) return html``;
  const truncated = plan.signal.raw_truncated && html`<p class="muted">The alert was cut to its first bytes.</p>`;
  if (inline)
    return html`<details id="alert">
      <summary>Raw alert</summary>
      ${truncated} ${json(plan.signal.raw)}
    </details>`;
  // hx-swap given here: it would inherit the polled section's outerHTML.
  return html`<details
    hx-get="/console/plans/${plan.id}/alert"
    hx-trigger="toggle once"
    hx-target="find .raw"
    hx-swap="innerHTML"
  >
    <summary>Raw alert</summary>
    <div class="raw"><a href="/console/plans/${plan.id}#alert">Open it on the plan page</a></div>
  </details>`;
}

function signalFacts(plan: InboxPlan): Html {
  const s = plan.signal;
  if (!s) return html``;
  return html`<dt>Signal</dt>
    <dd>
      <span class="signal-title">${s.title}</span> ${badge(s.severity, SEVERITY[s.severity])}
      <span class="muted"
        >confidence ${s.confidence}, ${s.type}, from ${s.source_name ?? s.source_id}, observed
        ${time(s.observed_at)}</span
      >
    </dd>`;
}

/** One plan: facts, targets, verdicts (the plan page adds its decisions and forms). */
export function planCard(plan: InboxPlan, options: { userId: string; inline: boolean }): Html {
  const why = whyNotDecide(plan, options.userId);
  const pb = plan.playbook;
  return html`<article class="card plan" id="plan-${plan.id}">
    <h2>${headline(plan)} ${statusBadge(plan.status)}</h2>
    <dl class="facts">
      ${signalFacts(plan)}
      <dt>Playbook</dt>
      <dd>
        ${pb ? html`<a href="/console/playbooks/${pb.name}">${pb.name}</a> version ${pb.version}` : 'none'}
        ${pb?.description && html`<span class="muted">${pb.description}</span>`}
      </dd>
      <dt>Asked by</dt>
      <dd>${requester(plan)} <span class="muted">at</span> ${time(plan.created_at)}</dd>
      <dt>Expires</dt>
      <dd>${time(plan.expires_at)}</dd>
      <dt>Approvals</dt>
      <dd>${approvals(plan)}</dd>
      ${
        plan.containment_id &&
        html`<dt>Containment</dt>
          <dd><a href="/console/containments/${plan.containment_id}">${plan.containment_id}</a></dd>`
      }
    </dl>
    <h3>What it will do</h3>
    ${targetRows(plan)}
    <h3>Guard verdicts</h3>
    ${verdictsTable(plan.verdicts, { caption: { text: 'Guard verdicts', hidden: true }, badges: true })}
    ${rawAlert(plan, options.inline)}
    ${
      !options.inline &&
      html`<p>
        ${
          why === undefined
            ? html`<a class="decide-link" href="/console/plans/${plan.id}">Review and decide</a>`
            : html`<span class="muted">${why}</span> <a href="/console/plans/${plan.id}">Open the plan</a>`
        }
      </p>`
    }
  </article>`;
}

/** The inbox's list of pending plans. */
export function inboxList(plans: InboxPlan[], userId: string): Html {
  if (plans.length === 0) return html`<p class="muted empty">No plan is waiting for approval.</p>`;
  return html`<p class="muted">${plans.length} plan${plans.length === 1 ? '' : 's'} waiting, newest first.</p>
    ${plans.map((plan) => planCard(plan, { userId, inline: false }))}`;
}
