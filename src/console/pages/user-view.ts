/**
 * The users pages' views: the search form with its results, and one user (facts, groups, live sessions,
 * containment history). What a page shows of a session is its kind and times: never its token or hash.
 */
import type { Group, Session, User } from '../../storage/schema.js';
import type { ContainmentSummary } from '../../store/containments.js';
import type { ListedUser } from '../../store/users.js';
import { html, time, type Html } from '../html.js';

export const SEARCH_LIMIT = 50;

const stateBadge = (state: string): Html =>
  html`<span class="badge ${state === 'ACTIVE' ? 'good' : 'bad'}">${state.toLowerCase()}</span>`;

function results(q: string, users: ListedUser[]): Html {
  if (users.length === 0) return html`<p class="muted">Nobody's email or name holds “${q}”.</p>`;
  return html`<table>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Email</th>
          <th scope="col">Role</th>
          <th scope="col">State</th>
        </tr>
      </thead>
      <tbody>
        ${users.map(
          (u) =>
            html`<tr>
              <td><a href="/console/users/${u.id}">${u.display_name}</a></td>
              <td>${u.email}</td>
              <td>${u.role.toLowerCase()}</td>
              <td>${stateBadge(u.state)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
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
  if (sessions.length === 0) return html`<p class="muted">No live session.</p>`;
  return html`<table>
    <thead>
      <tr>
        <th scope="col">Kind</th>
        <th scope="col">Created</th>
        <th scope="col">Last seen</th>
        <th scope="col">Expires</th>
      </tr>
    </thead>
    <tbody>
      ${sessions.map(
        (s) =>
          html`<tr>
            <td>${s.kind}</td>
            <td>${time(s.created_at)}</td>
            <td>${time(s.last_seen_at)}</td>
            <td>${time(s.expires_at)}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function historyTable(rows: ContainmentSummary[], limit: number): Html {
  if (rows.length === 0) return html`<p class="muted">Never contained.</p>`;
  return html`<table>
      <thead>
        <tr>
          <th scope="col">Opened</th>
          <th scope="col">Status</th>
          <th scope="col">Targets</th>
          <th scope="col">Closed</th>
          <th scope="col">Record</th>
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (c) =>
            html`<tr>
              <td>${time(c.opened_at)}</td>
              <td>${c.status}${c.locked && c.status === 'open' && ' (locked)'}</td>
              <td>${c.targets_state ?? '—'}</td>
              <td>${c.status === 'closed' ? html`${time(c.closed_at)} ${c.close_reason}` : '—'}</td>
              <td><a href="/console/containments/${c.id}">${c.id}</a></td>
            </tr>`,
        )}
      </tbody>
    </table>
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
