/**
 * Incidents: signals → plans → containments as one timeline, newest first, for approvers (who see the
 * plans anyway). Filtered by state, a time range (UTC), the subject's email and the playbook through a GET
 * form; 50 rows a page, with an "Older" link carrying the last row's cursor and the filters.
 */
import type { FastifyInstance } from 'fastify';
import type { Core } from '../../core.js';
import { AppError } from '../../errors.js';
import { approverOf, isApprover } from '../../response/approvers.js';
import { INCIDENT_STATES, listIncidents, type IncidentQuery, type IncidentRow } from '../../store/incidents.js';
import { html, table, time, type Html } from '../html.js';
import { page } from '../layout.js';
import { sendHtml } from '../routes.js';
import { consoleGuard, personOf } from '../session.js';
import { badge, statusBadge } from './inbox-view.js';

const PAGE_SIZE = 50;

interface Filters {
  state: string;
  from: string;
  to: string;
  subject: string;
  playbook: string;
}
type Query = Partial<Filters> & { before?: string };

const str = (value: unknown, max: number) => (typeof value === 'string' ? value.trim().slice(0, max) : '');

/** A `datetime-local` (or a date) as the UTC instant the console means by it. */
function instant(name: string, value: string): Date | undefined {
  if (value === '') return undefined;
  const at = new Date(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : `${value}Z`);
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?$/.test(value) || Number.isNaN(at.getTime()))
    throw new AppError('INVALID_ARGUMENT', { description: `${name}: give a date, or a date and time (UTC)` });
  return at;
}

function parse(accountId: string, query: Query): { filters: Filters; q: IncidentQuery } {
  const filters: Filters = {
    state: str(query.state, 32),
    from: str(query.from, 32),
    to: str(query.to, 32),
    subject: str(query.subject, 320),
    playbook: str(query.playbook, 100),
  };
  const state = INCIDENT_STATES.find((s) => s === filters.state);
  if (filters.state !== '' && !state) throw new AppError('INVALID_ARGUMENT', { description: 'state: not a state' });
  const cursor = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)~([A-Z2-7]{26})$/.exec(str(query.before, 64));
  if (str(query.before, 64) !== '' && !cursor)
    throw new AppError('INVALID_ARGUMENT', { description: 'before: not a cursor of this page' });
  return {
    filters,
    q: {
      accountId,
      state,
      from: instant('from', filters.from),
      to: instant('to', filters.to),
      subject: filters.subject || undefined,
      playbook: filters.playbook || undefined,
      before: cursor ? { at: cursor[1]!, id: cursor[2]! } : undefined,
      limit: PAGE_SIZE,
    },
  };
}

function filterForm(f: Filters): Html {
  const input = (id: string, label: string, name: keyof Filters, type: string) =>
    html`<label for="${id}">${label} <input id="${id}" name="${name}" type="${type}" value="${f[name]}" /></label>`;
  return html`<form class="filters" method="get" action="/console/incidents">
    <label for="f-state"
      >State
      <select id="f-state" name="state">
        <option value="">any</option>
        ${INCIDENT_STATES.map(
          (s) => html`<option value="${s}" ${s === f.state && html`selected`}>${s.replace('_', ' ')}</option>`,
        )}
      </select></label
    >
    ${input('f-from', 'From (UTC)', 'from', 'datetime-local')} ${input('f-to', 'To (UTC)', 'to', 'datetime-local')}
    ${input('f-subject', 'Subject email', 'subject', 'search')} ${input('f-playbook', 'Playbook', 'playbook', 'text')}
    <button type="submit">Filter</button>
  </form>`;
}

function containmentCell(r: IncidentRow): Html {
  if (!r.containment_id) return html`<span class="muted">—</span>`;
  const state =
    r.containment_status === 'open'
      ? badge(`contained${r.targets_state ? ` (${r.targets_state.replace('_', ' ')})` : ''}`, 'warn')
      : html`${badge(r.close_reason?.replace('_', ' ') ?? 'closed', 'good')} ${time(r.closed_at)}`;
  return html`<a href="/console/containments/${r.containment_id}">record</a> ${state}`;
}

function row(r: IncidentRow): Html {
  return html`<tr>
    <td>${time(r.received_at)}</td>
    <td>
      ${r.title} ${badge(r.severity, r.severity === 'critical' || r.severity === 'high' ? 'bad' : undefined)}
      <span class="muted">from ${r.source_name ?? r.source_id}</span>
    </td>
    <td>
      ${
        r.subject_id
          ? html`<a href="/console/users/${r.subject_id}">${r.subject_name}</a>
              <span class="muted">${r.subject_email}</span>`
          : html`<span class="muted">unresolved</span>`
      }
    </td>
    <td>
      ${
        r.playbook_name
          ? html`<a href="/console/playbooks/${r.playbook_name}">${r.playbook_name}</a> v${r.playbook_version}`
          : html`<span class="muted">none</span>`
      }
    </td>
    <td>
      ${r.plan_id ? html`<a href="/console/plans/${r.plan_id}">${r.action}</a> ${statusBadge(r.plan_status!)}` : '—'}
    </td>
    <td>${containmentCell(r)}</td>
  </tr>`;
}

/** This timeline with the same filters, from the newest or from after `last`. */
function pageUrl(f: Filters, last?: IncidentRow): string {
  const params = new URLSearchParams(Object.entries(f).filter(([, v]) => v !== ''));
  if (last) params.set('before', `${last.cursor_at}~${last.signal_id}`);
  return `/console/incidents?${params.toString()}`;
}

export function incidentPages(app: FastifyInstance, core: Core): void {
  const guard = { schema: { hide: true }, preHandler: consoleGuard(core) };
  app.get<{ Querystring: Query }>('/console/incidents', guard, async (request, reply) => {
    const person = personOf(request);
    if (!(await isApprover(core.database.db, person.accountId, approverOf(person))))
      throw new AppError('PERMISSION_DENIED', {
        description: 'incidents are for OWNERs, ADMINs and members of the approver group',
      });
    const { filters, q } = parse(person.accountId, request.query);
    const { rows, more } = await listIncidents(core.database.db, q);
    const list = table(['Received', 'Signal', 'Subject', 'Playbook', 'Plan', 'Containment'], rows.map(row), {
      class: 'incidents',
      empty: html`<p class="muted empty">No incident matches.</p>`,
    });
    const nav = html`<p class="pages">
      ${q.before && html`<a href="${pageUrl(filters)}">Newest</a>`}
      ${more && html`<a rel="next" href="${pageUrl(filters, rows.at(-1))}">Older</a>`}
    </p>`;
    const body = html`${filterForm(filters)} ${list} ${nav}`;
    return sendHtml(reply, page(person, { title: 'Incidents', section: 'incidents', body }));
  });
}
