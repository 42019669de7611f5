/**
 * The `explain` chain as the console shows it (response/explain.ts assembles it, as for the API and the
 * CLI): signal → playbook → plan and its guard verdicts → approvals → the executing principal → outcome →
 * the audit entry and whether a signed checkpoint covers it, and each remote attempt. Every audit index
 * is a link to the audit explorer, where the browser verifies the entry.
 */
import type { Explanation } from '../../response/explain.js';
import { html, str, table, time, type Html } from '../html.js';
import { verdictsTable, type Verdict } from './inbox-view.js';

/** An audit index as a link to its entry in the audit explorer. */
export const auditLink = (index: number | null | undefined): Html =>
  index === null || index === undefined
    ? html`<span class="muted">not yet numbered</span>`
    : html`<a href="/console/audit/${index}">#${index}</a>`;

/** Who acted: a person links to their page. */
export const actorLink = (actor: { type: string; id: string } | null | undefined): Html => {
  if (!actor) return html`<span class="muted">—</span>`;
  return actor.type === 'user'
    ? html`<a href="/console/users/${actor.id}">user ${actor.id}</a>`
    : html`${actor.type} ${actor.id}`;
};

/** The authorization an entry carries, as `key: value` pairs (ids, methods, roles; never a secret). */
const authzText = (authz: Record<string, unknown>): string =>
  Object.entries(authz)
    .map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(', ');

function signalFacts(e: Explanation): Html {
  const s = e.signal;
  if (!s)
    return html`<dt>Signal</dt>
      <dd class="muted">none (not opened by a signal)</dd>`;
  return html`<dt>Signal</dt>
    <dd>
      ${str(s['title'])} <span class="muted">(${str(s['type'])})</span>, severity ${str(s['severity'])}, confidence
      ${str(s['confidence'])}, from ${str(s['source_id'])}
      ${s['false_positive'] === true && html`<span class="badge warn">false positive</span>`}
    </dd>
    <dt>Received</dt>
    <dd>
      ${time(s['receive_time'] as string)}
      ${
        e.submitted_by &&
        html`by ${actorLink(e.submitted_by.actor)}, ${authzText(e.submitted_by.authz)}: entry
        ${auditLink(e.submitted_by.index)}`
      }
    </dd>`;
}

function planFacts(e: Explanation): Html {
  const plan = e.plan;
  return html`${
      e.playbook &&
      html`<dt>Playbook</dt>
        <dd>
          <a href="/console/playbooks/${e.playbook.name}">${e.playbook.name}</a> version ${e.playbook.version}
          ${e.playbook.content_hash && html`<span class="muted">(${e.playbook.content_hash.slice(0, 12)}…)</span>`}
        </dd>`
    }
    <dt>Plan</dt>
    <dd>
      ${
        plan
          ? html`<a href="/console/plans/${plan.id}">${plan.id}</a>: ${plan.action}, ${plan.mode}, ${plan.status}`
          : html`<span class="muted">none</span>`
      }
    </dd>
    <dt>Approvals</dt>
    <dd>
      ${
        e.approvals.length === 0
          ? html`<span class="muted">none</span>`
          : e.approvals.map(
              (a) =>
                html`<div>
                  ${a.decision} by ${actorLink({ type: 'user', id: a.approver_id })} at ${time(a.time)}: ${a.reason}
                </div>`,
            )
      }
    </dd>`;
}

function actionFacts(e: Explanation): Html {
  const entry = e.action;
  const c = e.outcome.containment;
  return html`<dt>Action</dt>
    <dd>
      ${
        entry
          ? html`${entry.action} (${entry.outcome}) by ${actorLink({ type: entry.actor_type, id: entry.actor_id })} at
              ${time(entry.recorded_at)}: entry ${auditLink(entry.idx)}
              <div class="muted">${authzText(entry.authz)}</div>`
          : html`<span class="muted">no entry</span>`
      }
    </dd>
    <dt>Outcome</dt>
    <dd>
      plan ${e.outcome.plan_status ?? '—'}; user ${e.outcome.user_state ?? '—'}
      ${c && html`; containment ${c.status}${c.close_reason && html` (${c.close_reason})`}`}
    </dd>
    <dt>Proof</dt>
    <dd>
      ${
        e.proof
          ? html`included in the signed checkpoint of ${e.proof.tree_size} entries (${e.proof.origin}): verify it at
            ${auditLink(e.proof.entry.idx)}`
          : html`<span class="muted">no signed checkpoint covers the entry yet</span>`
      }
    </dd>`;
}

function attemptsTable(e: Explanation): Html {
  const rows = e.targets.flatMap((t) =>
    t.steps.flatMap((s) =>
      s.attempts.map((a) => [
        html`${t.name} <span class="muted">(${t.kind})</span>`,
        s.operation,
        a.attempt,
        a.outcome,
        a.status ?? '—',
        a.latency_ms === null ? '—' : `${Math.round(a.latency_ms)} ms`,
        auditLink(a.index),
      ]),
    ),
  );
  const headers = ['Target', 'Operation', 'Attempt', 'Outcome', 'HTTP status', 'Latency', 'Entry'];
  return table(headers, rows, { caption: 'Remote attempts', empty: '' });
}

/** The chain behind a containment, as a section of its page. */
export function explainSection(e: Explanation): Html {
  const verdicts = (e.plan?.verdicts ?? []) as Verdict[];
  return html`<section class="card" aria-labelledby="explain">
    <h2 id="explain">Why: the explain chain</h2>
    <dl class="facts">${signalFacts(e)} ${planFacts(e)} ${actionFacts(e)}</dl>
    ${verdictsTable(verdicts, { caption: 'Guard verdicts', outcome: 'Outcome', empty: '' })} ${attemptsTable(e)}
  </section>`;
}
