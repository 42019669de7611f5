/** The playbook pages' views: the list with the lint and dry-run tools, and one playbook's versions and diff. */
import { stringify } from 'yaml';
import type { dryRunView } from '../../http/views/plans.js';
import type { CanonicalSignal } from '../../response/intake/index.js';
import { INTAKE_FORMATS } from '../../response/intake/signal.js';
import type { PlaybookRow } from '../../store/playbooks.js';
import { block, html, json, table, time, type Html } from '../html.js';
import { csrfField } from '../layout.js';
import { diffLines } from '../line-diff.js';
import type { ConsolePerson } from '../session.js';
import { verdictsTable } from './inbox-view.js';

export interface LintResult {
  name: string;
  problems: string[];
}

export interface DryRunForm {
  signal: string;
  format: string;
  source: string;
}

export interface ToolsView {
  lint?: LintResult[];
  lintText?: string;
  dryRun?: DryRunForm;
  signal?: CanonicalSignal;
  result?: ReturnType<typeof dryRunView>;
}

/** A stored version as the diff compares it: YAML, keys in stored order. */
export const documentText = (row: PlaybookRow): string => stringify(row.document);

function lintSection(person: ConsolePerson, tools: ToolsView): Html {
  const results = tools.lint?.map(
    (r) =>
      html`<li>
        <strong>${r.name}</strong>:
        ${
          r.problems.length === 0
            ? html`<span class="badge good">OK</span>`
            : html`<ul class="lint-problems">
                ${r.problems.map((p) => html`<li>${p}</li>`)}
              </ul>`
        }
      </li>`,
  );
  return html`<section class="card">
    <h2>Lint</h2>
    <form class="stack" method="post" action="/console/playbooks/lint">
      ${csrfField(person)}
      <label for="lint-text">Playbook (YAML or JSON; one document or a list)</label>
      <textarea id="lint-text" name="playbook" required>${tools.lintText ?? ''}</textarea>
      <p><button type="submit">Lint</button></p>
    </form>
    ${
      results &&
      html`<ul class="lint-results">
        ${results}
      </ul>`
    }
  </section>`;
}

function planResult(signal: CanonicalSignal, result: ReturnType<typeof dryRunView>): Html {
  const { plan } = result;
  return html`<div class="dry-run-result">
    <h3>Normalised signal</h3>
    ${json(signal, 'Normalised signal')}
    <h3>Plan</h3>
    <dl class="facts">
      <dt>Status</dt>
      <dd class="plan-status">
        ${plan.status}${result.duplicate && ' (duplicate: submitting it would change nothing)'}
      </dd>
      <dt>Subject</dt>
      <dd>${plan.subject_user_id ?? '(unresolved)'}</dd>
      <dt>Playbook</dt>
      <dd>${plan.playbook ? `${plan.playbook.name} v${plan.playbook.version}` : '(none)'}</dd>
      <dt>Action</dt>
      <dd>${plan.action}${plan.mode && ` (${plan.mode})`}</dd>
      <dt>Policy</dt>
      <dd>v${plan.policy_version}</dd>
      <dt>Approvals</dt>
      <dd>${plan.approvals_required}</dd>
    </dl>
    ${verdictsTable(plan.verdicts)}
  </div>`;
}

function dryRunSection(person: ConsolePerson, tools: ToolsView): Html {
  const form = tools.dryRun ?? { signal: '', format: 'canonical', source: '' };
  return html`<section class="card">
    <h2>Dry run</h2>
    <p class="muted">The plan a pasted alert would get under the current playbooks and policy. Nothing is written.</p>
    <form class="stack" method="post" action="/console/playbooks/dry-run">
      ${csrfField(person)}
      <label for="dry-format">Format</label>
      <select id="dry-format" name="format">
        ${INTAKE_FORMATS.map((f) => html`<option value="${f}" ${f === form.format && html`selected`}>${f}</option>`)}
      </select>
      <label for="dry-source">Source id <span class="muted">(optional: playbooks may match on it)</span></label>
      <input id="dry-source" name="source_id" type="text" value="${form.source}" />
      <label for="dry-signal">Alert (JSON)</label>
      <textarea id="dry-signal" name="signal" required>${form.signal}</textarea>
      <p><button type="submit">Dry run</button></p>
    </form>
    ${tools.signal && tools.result && planResult(tools.signal, tools.result)}
  </section>`;
}

/** Every version of a playbook (the newest ten), each a link to its diff with the one before. */
function versionLinks(p: PlaybookRow): Html {
  const versions = Array.from({ length: Math.min(p.version, 10) }, (_, i) => p.version - i);
  const link = (v: number) =>
    html`<a href="/console/playbooks/${p.name}?from=${Math.max(1, v - 1)}&amp;to=${v}">v${v}</a>`;
  return html`${versions.map((v, i) => html`${i > 0 && ', '}${link(v)}`)}${p.version > 10 && ', …'}`;
}

export function playbooksBody(person: ConsolePerson, playbooks: PlaybookRow[], tools: ToolsView): Html {
  const rows = playbooks.map((p) => [
    html`<a href="/console/playbooks/${p.name}">${p.name}</a>`,
    versionLinks(p),
    time(p.created_at),
    p.created_by,
    html`<code>${p.content_hash.slice(0, 12)}</code>`,
  ]);
  return html`${table(['Playbook', 'Versions', 'Applied', 'By', 'Content hash'], rows, {
    empty: html`<p>No playbook applied yet (<code>cordon playbooks apply -f FILE</code>).</p>`,
  })}
  ${lintSection(person, tools)} ${dryRunSection(person, tools)}`;
}

const versionOption = (version: number, chosen: number) =>
  html`<option value="${version}" ${version === chosen && html`selected`}>v${version}</option>`;

const versionSelect = (id: string, label: string, versions: PlaybookRow[], chosen: number) =>
  html`<label for="${id}"
    >${label}
    <select id="${id}" name="${id}">
      ${versions.map((v) => versionOption(v.version, chosen))}
    </select></label
  >`;

/** The diff as +/- lines; `diff-line` elements in order (tests read them). */
export function diffView(before: string, after: string): Html {
  const lines = diffLines(before, after).map((l) => {
    const kind = l.kind === '+' ? 'add' : l.kind === '-' ? 'del' : 'same';
    return html`<span class="diff-line ${kind}">${l.kind} ${l.text}</span>${'\n'}`;
  });
  return html`<pre class="json diff" tabindex="0" aria-label="Diff">${lines}</pre>`;
}

export function playbookBody(versions: PlaybookRow[], from: PlaybookRow, to: PlaybookRow): Html {
  const rows = versions.map((v) => [
    `v${v.version}`,
    time(v.created_at),
    v.created_by,
    html`<code>${v.content_hash.slice(0, 12)}</code>`,
  ]);
  return html`${table(['Version', 'Applied', 'By', 'Content hash'], rows)}
    <h2>Diff</h2>
    <form class="filters" method="get" action="/console/playbooks/${to.name}">
      ${versionSelect('from', 'From', versions, from.version)} ${versionSelect('to', 'To', versions, to.version)}
      <button type="submit">Compare</button>
    </form>
    <p class="muted">v${from.version} → v${to.version}</p>
    ${diffView(documentText(from), documentText(to))}
    <h2>v${to.version}</h2>
    ${block(documentText(to), `Version ${to.version}`)}`;
}
