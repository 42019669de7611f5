/**
 * The users pages' views: the search form with its results, and one user (facts, groups, live sessions,
 * containment history). What a page shows of a session is its kind and times: never its token or hash.
 */
import type { Group, Session, User } from '../../storage/schema.js';
import type { ContainmentSummary } from '../../store/containments.js';
import type { ListedUser } from '../../store/users.js';
import { html, table, time, type Html } from '../html.js';

export const SEARCH_LIMIT = 50;

const stateBadge = (state: string): Html =>
  html`<span class="badge ${state === 'ACTIVE' ? 'good' : 'bad'}">${state.toLowerCase()}</span>`;

function results(q: string, users: ListedUser[]): Html {
  const rows = users.map((u) => [
    html`<a href="/console/users/${u.id}">${u.display_name}</a>`,
    u.email,
    u.role.toLowerCase(),
    stateBadge(u.state),
  ]);
  return html`${table(['Name', 'Email', 'Role', 'State'], rows, {
    empty: html`<p class="muted">Nobody's email or name holds “${q}”.</p>`,
  })}
  ${users.length === SEARCH_LIMIT && html`<p class="muted">The first ${SEARCH_LIMIT}: narrow the search.</p>`}`;
}

/** The search form, and its results once asked. */
export function searchBody(q: string, users: ListedUser[] | undefined): Html {
  return html`<form class="filters" method="get" action="/console/users" role="search">
      <label for="q">Email or name</label>
      <input id="q" name="q" type="search" maxlength="100" value="${q}" autocomplete="off" />
      <button type="submit">Search</button>
    </form>
    ${users && results(q, users)}`;
}

export interface UserPage {
  user: User;
  groups: Group[];
  sessions: Session[];
  containments: ContainmentSummary[];
  limit: number;
}

function sessionsTable(sessions: Session[]): Html {
  const rows = sessions.map((s) => [s.kind, time(s.created_at), time(s.last_seen_at), time(s.expires_at)]);
  return table(['Kind', 'Created', 'Last seen', 'Expires'], rows, {
    empty: html`<p class="muted">No live session.</p>`,
  });
}

function historyTable(rows: ContainmentSummary[], limit: number): Html {
  const cells = rows.map((c) => [
    time(c.opened_at),
    html`${c.status}${c.locked && c.status === 'open' && ' (locked)'}`,
    c.targets_state ?? '—',
    c.status === 'closed' ? html`${time(c.closed_at)} ${c.close_reason}` : '—',
    html`<a href="/console/containments/${c.id}">${c.id}</a>`,
  ]);
  return html`${table(['Opened', 'Status', 'Targets', 'Closed', 'Record'], cells, {
    empty: html`<p class="muted">Never contained.</p>`,
  })}
  ${rows.length === limit && html`<p class="muted">The newest ${limit} are shown.</p>`}`;
}

/** One user's page. */
export function userBody(p: UserPage): Html {
  const u = p.user;
  return html`<dl class="facts">
      <dt>Email</dt>
      <dd>${u.email}</dd>
      <dt>State</dt>
      <dd>${stateBadge(u.state)}</dd>
      <dt>Role</dt>
      <dd>${u.role.toLowerCase()}${u.externally_managed && html` <span class="muted">(externally managed)</span>`}</dd>
      <dt>Groups</dt>
      <dd>${p.groups.length === 0 ? html`<span class="muted">none</span>` : p.groups.map((g) => g.name).join(', ')}</dd>
      <dt>Created</dt>
      <dd>${time(u.created_at)}</dd>
    </dl>
    <section class="card" aria-labelledby="sessions">
      <h2 id="sessions">Live sessions</h2>
      ${sessionsTable(p.sessions)}
    </section>
    <section class="card" aria-labelledby="history">
      <h2 id="history">Containment history</h2>
      ${historyTable(p.containments, p.limit)}
    </section>`;
}
