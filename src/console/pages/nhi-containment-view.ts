/**
 * A leaked secret's containment record (response/nhi.ts) as its console page shows it: the subject (the
 * app with its maker, the source, the session's person), the action, where the leak was found (a URL is
 * text, a link only when it is https), what was revoked (counts; the jtis folded away), what the app
 * changed in the hour before, and the form that reads the new secret once; then the page that shows it,
 * and the line on a maker's home page about the apps of theirs that are contained.
 */
import type { RevealedSecret } from '../../response/nhi-restore.js';
import type { ContainmentRow } from '../../store/containments.js';
import type { MadeAppContainment, NamedPerson, NhiOwner } from '../../store/nhi-names.js';
import type { NhiSubject } from '../../storage/schema.js';
import { html, str, table, time, type Html } from '../html.js';
import { csrfField } from '../layout.js';
import type { ConsolePerson } from '../session.js';
import { actorLink } from './explain-view.js';

const LABEL: Record<NhiSubject['type'], string> = { app: 'App', source: 'Detection source', session: 'Session' };

const ACTION: Record<string, string> = {
  rotate_secret: 'rotate the secret: a new one replaced the leaked one',
  disable_app: 'disable: the app or source stopped working',
  revoke_tokens: 'revoke tokens: its live tokens no longer work',
};

/** What the flash says after a restore of a non-human identity's record. */
export function nhiRestoreDone(subject: NhiSubject, done: string): string | undefined {
  if (done === 'pending') return undefined;
  if (subject.type === 'session') return 'Closed: the leaked session stays ended.';
  const how = done === 'false_positive' ? 'Undone as a false positive' : 'Restored';
  return (
    `${how}: the ${LABEL[subject.type].toLowerCase()} works again with a new secret, to be read once below; ` +
    'the leaked one never works again.'
  );
}

const personText = (p: NamedPerson) => html`<a href="/console/users/${p.id}">${p.display_name} &lt;${p.email}&gt;</a>`;

/** Who the subject is, by name. */
export function nhiSubjectText(subject: NhiSubject, owner: NhiOwner): Html {
  if (subject.type === 'session')
    return html`Session ${subject.id} of ${owner.user ? personText(owner.user) : subject.user_id}`;
  const name = owner.name ?? html`<span class="muted">${subject.id} (no longer exists)</span>`;
  return html`${LABEL[subject.type]} ${name}
  ${owner.client_id && html`<span class="muted">client ${owner.client_id}</span>`}
  ${subject.credential && html`<span class="muted">(its events token ${subject.credential.id})</span>`}`;
}

/** The facts at the top of the page. */
export function nhiSummary(c: ContainmentRow, owner: NhiOwner): Html {
  const subject = c.subject_nhi!;
  const cause = c.cause;
  // A non-human identity's record keeps the actor itself (response/nhi.ts), a user's record `{actor}`.
  const actor = (by: Record<string, unknown>) => (by['actor'] ?? by) as { type: string; id: string } | undefined;
  const planId = typeof cause['plan_id'] === 'string' ? cause['plan_id'] : undefined;
  const playbook = typeof cause['playbook'] === 'string' ? cause['playbook'] : undefined;
  return html`<dl class="facts">
    <dt>Subject</dt>
    <dd class="nhi-subject">${nhiSubjectText(subject, owner)}</dd>
    ${
      subject.type === 'app' &&
      html`<dt>Made by</dt>
        <dd class="nhi-maker">
          ${owner.maker ? personText(owner.maker) : html`<span class="muted">the operator</span>`}
        </dd>`
    }
    <dt>Leaked secret</dt>
    <dd><code>${subject.kind}</code> <span class="muted">SHA-256 ${subject.token_hash}</span></dd>
    <dt>Action</dt>
    <dd class="nhi-action">${c.action ? `${c.action}: ${ACTION[c.action] ?? ''}` : '—'}</dd>
    <dt>Status</dt>
    <dd>
      <span class="badge ${c.status === 'open' ? 'bad' : 'good'}">${c.status}</span>
      ${owner.disabled_at && html`<span class="badge warn">disabled</span>`}
    </dd>
    <dt>Opened</dt>
    <dd>${time(c.opened_at)} by ${actorLink(actor(c.opened_by))}</dd>
    <dt>Cause</dt>
    <dd>
      ${planId ? html`plan <a href="/console/plans/${planId}">${planId}</a>` : '—'}
      ${playbook && html`, playbook ${playbook} v${str(cause['playbook_version'])}`}
    </dd>
    ${
      c.status === 'closed' &&
      html`<dt>Closed</dt>
        <dd>${time(c.closed_at)}: ${c.close_reason} ${c.closed_by && html` by ${actorLink(actor(c.closed_by))}`}</dd>`
    }
  </dl>`;
}

/** A URL as the page shows it: a link when it is https, plain text otherwise (never a javascript: href). */
export function leakUrl(url: string): Html {
  return URL.canParse(url) && new URL(url).protocol === 'https:'
    ? html`<a href="${url}" rel="noopener noreferrer nofollow" class="leak-url">${url}</a>`
    : html`<code class="leak-url">${url}</code>`;
}

type Details = {
  leak?: { url?: string | null; observed_at?: string; report?: string | null };
  revoked?: Record<string, { count?: number; jtis?: string[]; ids?: string[] }>;
  disabled?: boolean;
  secret_replaced?: boolean;
  app_changes_before?: {
    since: string;
    count: number;
    listed: Array<{ action: string; target: { type: string; id: string }; at: string }>;
  };
};

function leakSection(details: Details): Html {
  const leak = details.leak ?? {};
  return html`<section class="card" aria-labelledby="leak">
    <h2 id="leak">Where the leak was found</h2>
    <dl class="facts">
      <dt>Found at</dt>
      <dd>${leak.url ? leakUrl(leak.url) : html`<span class="muted">not said</span>`}</dd>
      <dt>Observed</dt>
      <dd>${time(leak.observed_at)}</dd>
      ${
        leak.report &&
        html`<dt>Report</dt>
          <dd><code>${leak.report}</code></dd>`
      }
    </dl>
  </section>`;
}

const KINDS: Array<[string, string, 'jtis' | 'ids']> = [
  ['access_tokens', 'Access tokens', 'jtis'],
  ['events_tokens', 'Events tokens', 'ids'],
  ['sessions', 'Sessions', 'ids'],
];

function revokedSection(details: Details): Html {
  const revoked = details.revoked ?? {};
  const rows = KINDS.map(([key, label, list]) => {
    const item = revoked[key] ?? {};
    const ids = item[list] ?? [];
    return [
      label,
      html`<span class="count">${item.count ?? 0}</span>`,
      ids.length === 0
        ? html`<span class="muted">none</span>`
        : html`<details>
            <summary>${ids.length} ${list === 'jtis' ? 'jti' : 'id'}${ids.length === 1 ? '' : 's'}</summary>
            <ul class="ids">
              ${ids.map((id) => html`<li><code>${id}</code></li>`)}
            </ul>
          </details>`,
    ];
  });
  return html`<section class="card" aria-labelledby="revoked">
    <h2 id="revoked">What was revoked</h2>
    ${table(['Kind', 'Revoked', 'Which'], rows, { caption: { text: 'Revoked credentials', hidden: true } })}
    <p>
      ${details.disabled ? 'Disabled.' : 'Not disabled.'}
      ${details.secret_replaced ? 'The leaked secret was replaced by a new one.' : 'The secret was not replaced.'}
    </p>
  </section>`;
}

function changesSection(details: Details): Html {
  const changes = details.app_changes_before;
  if (!changes) return html``;
  return html`<section class="card" aria-labelledby="changes">
    <h2 id="changes">What the app changed in the hour before the leak</h2>
    <p>Since ${time(changes.since)}: <span class="count">${changes.count}</span> changes.</p>
    ${table(
      ['When', 'Action', 'Target'],
      changes.listed.map((change) => [time(change.at), change.action, `${change.target.type} ${change.target.id}`]),
      { empty: html`<p class="muted">None: the app changed nothing in that hour.</p>` },
    )}
    ${
      changes.count > changes.listed.length && html`<p class="muted">The first ${changes.listed.length} are listed.</p>`
    }
  </section>`;
}

/** The form that reads the new secret once, when the record keeps one. */
function secretSection(person: ConsolePerson, c: ContainmentRow): Html {
  if (c.secret_enc === null || c.subject_nhi!.type === 'session') return html``;
  return html`<section class="card" aria-labelledby="new-secret">
    <h2 id="new-secret">The new secret</h2>
    <p>A new secret waits to be read. It is shown once, to the person who reads it; then Cordon keeps no copy.</p>
    <form class="stack" method="post" action="/console/containments/${c.id}/read-secret">
      ${csrfField(person)}
      <p><button type="submit">Read the new secret</button></p>
    </form>
  </section>`;
}

/** The record's sections below its summary and restore form. */
export function nhiSections(person: ConsolePerson, c: ContainmentRow): { secret: Html; rest: Html } {
  const details = c.details as Details;
  return {
    secret: secretSection(person, c),
    rest: html`${leakSection(details)} ${revokedSection(details)} ${changesSection(details)}`,
  };
}

/** Why a restore form restores: of a non-human identity's record. */
export function nhiRestoreWhy(subject: NhiSubject, reason: 'restored' | 'false_positive'): string {
  if (subject.type === 'session') return 'Close the record: the leaked session stays ended.';
  const what = subject.type === 'app' ? 'the app' : 'the source';
  return reason === 'restored'
    ? `The leak is dealt with: ${what} works again with a new secret (never the leaked one), read once here.`
    : `The report was wrong: ${what} works again with a new secret, and the record closes as a false positive.`;
}

/** The page that shows the secret, this once. */
export function secretBody(read: RevealedSecret, owner: NhiOwner): Html {
  return html`<p class="flash good" role="status">Here is the new secret. It will not be shown again.</p>
    <dl class="facts">
      <dt>For</dt>
      <dd>${nhiSubjectText(read.subject, owner)}</dd>
      <dt>Secret</dt>
      <dd><code class="secret" id="secret">${read.secret}</code></dd>
    </dl>
    <p>
      <strong>Copy it now</strong>: Cordon keeps no copy, and this page is not stored by the browser. Put it where the
      ${read.subject.type === 'source' ? 'detection source' : 'app'} reads its secret.
    </p>
    <p><a href="/console/containments/${read.containment_id}">Back to the record</a></p>`;
}

/** The line on a maker's home page: open records of apps they made. */
export function madeAppsNotice(rows: MadeAppContainment[]): Html {
  if (rows.length === 0) return html``;
  return html`<section class="card made-apps" aria-labelledby="made-apps">
    <h2 id="made-apps">Apps you made are contained</h2>
    <ul>
      ${rows.map(
        (r) =>
          html`<li>
            <a href="/console/containments/${r.id}">${r.app_name}</a>: ${r.action ?? 'contained'} since
            ${time(r.opened_at)}${r.new_secret_waiting && html`; a new secret waits to be read`}
          </li>`,
      )}
    </ul>
  </section>`;
}
