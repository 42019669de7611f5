/** The automation page's view: the kill switch, the cap, tripped breakers, the restore policy. */
import type { Static } from 'typebox';
import type { AutomationSchema, RestorePolicySchema } from '../../http/views/automation.js';
import { html, table, time, type Html } from '../html.js';
import { csrfField } from '../layout.js';
import type { ConsolePerson } from '../session.js';

type Automation = Static<typeof AutomationSchema>;
type RestorePolicy = Static<typeof RestorePolicySchema>;

function killSwitch(person: ConsolePerson, a: Automation): Html {
  if (a.paused)
    return html`<section class="card">
      <h2>Kill switch</h2>
      <p>
        <span class="badge bad automation-state" data-state="paused">Paused</span> since ${time(a.pause_time)} by
        ${a.paused_by ?? '—'}${a.pause_reason && html`: ${a.pause_reason}`}. Every plan waits for approval.
      </p>
      <form method="post" action="/console/automation/resume">
        ${csrfField(person)}
        <button type="submit" data-confirm="Let playbooks in auto mode execute again?">Resume automation</button>
      </form>
    </section>`;
  return html`<section class="card">
    <h2>Kill switch</h2>
    <p>
      <span class="badge good automation-state" data-state="running">Running</span> Playbooks in auto mode execute
      without approval.
    </p>
    <form class="decide" method="post" action="/console/automation/pause">
      ${csrfField(person)}
      <label for="pause-reason">Reason <input id="pause-reason" name="reason" type="text" maxlength="500" /></label>
      <button class="danger" type="submit" data-confirm="Pause automation? Every plan will wait for approval.">
        Pause automation
      </button>
    </form>
  </section>`;
}

function breakers(person: ConsolePerson, a: Automation): Html {
  const rows = a.tripped_breakers.map((b) => [
    b.scope,
    time(b.trip_time),
    `${b.max_actions} per ${b.window_seconds} s`,
    b.held_user_ids.length,
    html`<form class="inline" method="post" action="/console/automation/reset-breaker">
      ${csrfField(person)}<input type="hidden" name="scope" value="${b.scope}" />
      <button class="secondary" type="submit" data-confirm="Reset the breaker ${b.scope}?">Reset</button>
    </form>`,
  ]);
  return html`<section class="card">
    <h2>Blast-radius cap</h2>
    <form class="decide" method="post" action="/console/automation/breaker">
      ${csrfField(person)}
      <label for="max-actions"
        >Max suspensions
        <input id="max-actions" name="max_actions" type="number" min="1" value="${a.breaker_cap.max_actions}"
      /></label>
      <label for="window-seconds"
        >Per window (seconds)
        <input id="window-seconds" name="window_seconds" type="number" min="1" value="${a.breaker_cap.window_seconds}"
      /></label>
      <button type="submit" data-confirm="Change the blast-radius cap?">Save cap</button>
    </form>
    <h2>Tripped breakers</h2>
    ${
      a.tripped_breakers.length === 0
        ? html`<p class="breaker-status">No breaker is tripped.</p>`
        : html`${table(['Scope', 'Tripped', 'Cap', 'Held back', 'Reset'], rows, { class: 'breaker-status' })}
            <form method="post" action="/console/automation/reset-breaker">
              ${csrfField(person)}
              <button class="danger" type="submit" data-confirm="Reset every tripped breaker?">Reset all</button>
            </form>`
    }
  </section>`;
}

function restorePolicy(person: ConsolePerson, policy: RestorePolicy): Html {
  const owner = person.session.user.role === 'OWNER';
  const facts = html`<dl class="facts">
    <dt>Approvals a restore needs</dt>
    <dd>${policy.restore_approvals}</dd>
    <dt>Approver group</dt>
    <dd>${policy.approver_group_id ?? '(any OWNER or ADMIN)'}</dd>
  </dl>`;
  if (!owner)
    return html`<section class="card">
      <h2>Restore policy</h2>
      ${facts}
      <p class="muted">Only OWNERs change it.</p>
    </section>`;
  return html`<section class="card">
    <h2>Restore policy</h2>
    ${facts}
    <form class="decide" method="post" action="/console/automation/restore-policy">
      ${csrfField(person)}
      <label for="restore-approvals"
        >Approvals (0: unattended, 2: two people)
        <select id="restore-approvals" name="restore_approvals">
          ${[0, 1, 2].map(
            (n) => html`<option value="${n}" ${n === policy.restore_approvals && html`selected`}>${n}</option>`,
          )}
        </select></label
      >
      <label for="approver-group"
        >Approver group id
        <input id="approver-group" name="approver_group_id" type="text" value="${policy.approver_group_id ?? ''}"
      /></label>
      <button type="submit" data-confirm="Change the restore policy?">Save policy</button>
    </form>
  </section>`;
}

export function automationBody(person: ConsolePerson, a: Automation, policy: RestorePolicy): Html {
  return html`${killSwitch(person, a)} ${breakers(person, a)} ${restorePolicy(person, policy)}`;
}
