/**
 * The `explain` chain as the console shows it (response/explain.ts assembles it, as for the API and the
 * CLI): signal → playbook → plan and its guard verdicts → approvals → the executing principal → outcome →
 * the audit entry and whether a signed checkpoint covers it, and each remote attempt. Every audit index
 * is a link to the audit explorer, where the browser verifies the entry.
 */
import type { Explanation } from '../../response/explain.js';
import { html, time, type Html } from '../html.js';

/** An audit index as a link to its entry in the audit explorer. */
export const auditLink = (index: number | null | undefined): Html =>
  index === null || index === undefined
    ? html`<span class="muted">not yet numbered</span>`
    : html`<a href="/console/audit/${index}">#${index}</a>`;

/** A value of a JSON record as text: scalars as they are, anything else as compact JSON. */
export const str = (value: unknown): string =>
  value === null || value === undefined
    ? ''
    : typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
      ? String(value)
      : JSON.stringify(value);

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

interface Verdict {
  step?: unknown;
  outcome?: unknown;
  reason?: unknown;
}

function verdictsTable(verdicts: unknown[]): Html {
  if (verdicts.length === 0) return html``;
  return html`<table>
    <caption>
      Guard verdicts
    </caption>
    <thead>
      <tr>
        <th scope="col">Step</th>
        <th scope="col">Outcome</th>
        <th scope="col">Reason</th>
      </tr>
    </thead>
    <tbody>
      ${(verdicts as Verdict[]).map(
        (v) =>
          html`<tr>
            <td>${str(v.step)}</td>
            <td>${str(v.outcome)}</td>
            <td>${str(v.reason)}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

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
      s.attempts.map(
        (a) =>
          html`<tr>
            <td>${t.name} <span class="muted">(${t.kind})</span></td>
            <td>${s.operation}</td>
            <td>${a.attempt}</td>
            <td>${a.outcome}</td>
            <td>${a.status ?? '—'}</td>
            <td>${a.latency_ms === null ? '—' : `${Math.round(a.latency_ms)} ms`}</td>
            <td>${auditLink(a.index)}</td>
          </tr>`,
      ),
    ),
  );
  if (rows.length === 0) return html``;
  return html`<table>
    <caption>
      Remote attempts
    </caption>
    <thead>
      <tr>
        <th scope="col">Target</th>
        <th scope="col">Operation</th>
        <th scope="col">Attempt</th>
        <th scope="col">Outcome</th>
        <th scope="col">HTTP status</th>
        <th scope="col">Latency</th>
        <th scope="col">Entry</th>
      </tr>
    </thead>
    <tbody>
      ${rows}
    </tbody>
  </table>`;
}

/** The chain behind a containment, as a section of its page. */
export function explainSection(e: Explanation): Html {
  return html`<section class="card" aria-labelledby="explain">
    <h2 id="explain">Why: the explain chain</h2>
    <dl class="facts">${signalFacts(e)} ${planFacts(e)} ${actionFacts(e)}</dl>
    ${verdictsTable(e.plan?.verdicts ?? [])} ${attemptsTable(e)}
  </section>`;
}
