/** The audit explorer's views: the filtered list, and one entry with its leaf and Verify button. */
import type { NumberedEntry } from '../../store/audit.js';
import { assetUrl } from '../assets.js';
import { block, html, json, table, type Html } from '../html.js';

export interface AuditFilters {
  action: string | undefined;
  actor: string | undefined;
  target: string | undefined;
  since: string | undefined;
  until: string | undefined;
}

const field = (id: string, label: string, value: string | undefined, type = 'text') =>
  html`<label for="${id}">${label}<input id="${id}" name="${id}" type="${type}" value="${value ?? ''}" /></label>`;

function filterForm(filters: AuditFilters): Html {
  return html`<form class="filters" method="get" action="/console/audit">
    ${field('action', 'Action', filters.action)} ${field('actor', 'Actor id', filters.actor)}
    ${field('target', 'Target user id', filters.target)}
    ${field('since', 'From (UTC)', filters.since, 'datetime-local')}
    ${field('until', 'Until (UTC)', filters.until, 'datetime-local')}
    <button type="submit">Search</button>
    <a href="/console/audit">Clear</a>
  </form>`;
}

function pageLink(filters: AuditFilters, from: number, label: string): Html {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(filters)) if (value !== undefined) query.set(name, value as string);
  query.set('from', String(from));
  return html`<a href="/console/audit?${query.toString()}">${label}</a>`;
}

const HEADERS = ['Index', 'Time', 'Actor', 'Action', 'Target', 'Outcome'];

export function auditListBody(view: {
  entries: NumberedEntry[];
  filters: AuditFilters;
  fromIndex: number;
  next: number | undefined;
  logSize: number;
  pageSize: number;
}): Html {
  const { entries, filters, fromIndex, next, logSize, pageSize } = view;
  const rows = entries.map((e) => [
    html`<a href="/console/audit/${e.idx}">${e.idx}</a>`,
    `${e.recorded_at.slice(0, 19).replace('T', ' ')}Z`,
    `${e.actor_type}:${e.actor_id}`,
    e.action,
    `${e.target_type}:${e.target_id}`,
    e.outcome,
  ]);
  return html`${filterForm(filters)}
    <p class="muted">
      ${logSize} entries in the log; showing from index ${fromIndex}.
      ${fromIndex > 0 && pageLink(filters, Math.max(0, fromIndex - pageSize), 'Earlier')}
      ${next !== undefined && pageLink(filters, next, 'Later')}
    </p>
    ${table(HEADERS, rows, { empty: html`<p>No entries match.</p>` })}`;
}

export function auditEntryBody(entry: NumberedEntry, leaf: string): Html {
  const details = { cause: entry.cause, authz: entry.authz, details: entry.details };
  return html`<dl class="facts">
      <dt>Time</dt>
      <dd>${entry.recorded_at}</dd>
      <dt>Actor</dt>
      <dd>${entry.actor_type}:${entry.actor_id}</dd>
      <dt>Action</dt>
      <dd>${entry.action}</dd>
      <dt>Target</dt>
      <dd>${entry.target_type}:${entry.target_id}</dd>
      <dt>Outcome</dt>
      <dd>${entry.outcome}</dd>
    </dl>
    <h2>Details</h2>
    ${json(details, 'Details')}
    <h2>Leaf</h2>
    <p class="muted">
      The RFC 8785 canonical JSON the log's Merkle tree commits to (leaf hash = SHA-256(0x00 ‖ leaf)).
    </p>
    ${block(leaf, 'Leaf')}
    <h2>Verify</h2>
    <p>
      Checks here, in your browser: the checkpoint's Ed25519 signature under the key the server publishes, this entry's
      leaf, and its inclusion path up to the signed root.
    </p>
    <p>
      <button type="button" data-verify="/console/audit/${entry.idx}/proof.json">Verify</button>
      <output class="verify-result" data-state="idle" aria-live="polite"></output>
    </p>
    <pre class="json verify-checkpoint" tabindex="0" aria-label="Signed checkpoint" hidden></pre>
    <script src="${assetUrl('audit-verify.js')}" defer></script>`;
}
