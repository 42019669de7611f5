/**
 * Containment pages, for OWNERs and ADMINs (as `GET /v1/accounts/{account}/containments` and explain):
 * the list (open or closed), and one record with its snapshot, drift, steps and explain chain, from which
 * a person restores it or undoes a false positive through the service the API's `:restore` calls
 * (response/restores.ts), as themselves: the restore policy may make it wait for more people, on a plan
 * the page links to. A refusal is audited as the API audits it. A leaked secret's record (a non-human
 * identity) is restored the same way, and the new secret it keeps is read once from its page (the service
 * the API's `:read-secret` calls, response/nhi-restore.ts), on a page no browser stores.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../../core.js';
import { AppError, isAppError } from '../../errors.js';
import { ADMIN_ROLES } from '../../http/guards/session.js';
import { approverOf } from '../../response/approvers.js';
import { explain } from '../../response/explain.js';
import { readContainmentSecret } from '../../response/nhi-restore.js';
import { requestRestore } from '../../response/restores.js';
import { readAutomation } from '../../store/automation.js';
import { findContainment, listContainmentSummaries, readRestoreState } from '../../store/containments.js';
import { findGroupsByIds } from '../../store/groups.js';
import { readNhiOwner } from '../../store/nhi-names.js';
import { listRestorePlansOf } from '../../store/plans.js';
import { listStepsOf } from '../../store/steps.js';
import { html, table, time } from '../html.js';
import { page, type PageOptions } from '../layout.js';
import { sendHtml } from '../routes.js';
import { consoleGuard, personOf, Redirect, type ConsolePerson } from '../session.js';
import { containmentBody, type ContainmentPage } from './containment-view.js';
import { nhiRestoreDone, secretBody } from './nhi-containment-view.js';

const ID = /^[A-Z2-7]{26}$/;
const LIST_LIMIT = 100;

const DONE: Record<string, string> = {
  restored: 'Restored: the user is active again, with their memberships as they are now.',
  false_positive:
    'Undone as a false positive: the user is active again, the signal is marked and its breaker slot freed.',
  pending: 'The restore policy needs more people: the restore now waits for their approvals.',
};

const notFound = (id: string) =>
  new AppError('CONTAINMENT_NOT_FOUND', { metadata: { containment_id: ID.test(id) ? id : 'invalid' } });

/** Everything the page shows, read in parallel; CONTAINMENT_NOT_FOUND for an id of no record of the account. */
async function readContainmentPage(core: Core, accountId: string, id: string): Promise<ContainmentPage> {
  const db = core.database.db;
  if (!ID.test(id)) throw notFound(id);
  const containment = await findContainment(db, accountId, id);
  if (!containment) throw notFound(id);
  const nhi = containment.subject_nhi;
  const [subject, owner, steps, restorePlans, explanation, automation] = await Promise.all([
    containment.user_id === null ? undefined : readRestoreState(db, accountId, containment.user_id),
    nhi ? readNhiOwner(db, accountId, nhi) : undefined,
    listStepsOf(db, accountId, [id]),
    listRestorePlansOf(db, accountId, containment.user_id, id),
    explain({ db, checkpointKey: core.checkpointKey }, accountId, id),
    readAutomation(db, accountId),
  ]);
  const ids = new Set([...(containment.snapshot.group_ids ?? []), ...(subject?.group_ids ?? [])]);
  const groups = new Map((await findGroupsByIds(db, accountId, [...ids])).map((g) => [g.id, g.name]));
  const restoreApprovals = automation.restore_approvals;
  return { containment, subject, owner, groups, steps, restorePlans, explanation, restoreApprovals };
}

async function renderContainment(
  core: Core,
  person: ConsolePerson,
  id: string,
  given: PageOptions['flash'] | { done: string },
): Promise<string> {
  const data = await readContainmentPage(core, person.accountId, id);
  const nhi = data.containment.subject_nhi;
  let flash = given && 'done' in given ? undefined : given;
  if (given && 'done' in given) {
    const text = (nhi && nhiRestoreDone(nhi, given.done)) ?? DONE[given.done];
    flash = text === undefined ? undefined : { kind: 'good', text };
  }
  return page(person, {
    title: `Containment ${id}`,
    section: 'incidents',
    flash,
    body: containmentBody(person, data),
  }).text;
}

function listBody(rows: Awaited<ReturnType<typeof listContainmentSummaries>>, status: string | undefined) {
  const filter = (value: string, label: string) =>
    html`<a
      href="/console/containments${value ? `?status=${value}` : ''}"
      ${(status ?? '') === value && html`aria-current="page"`}
      >${label}</a
    >`;
  return html`<p class="filters">${filter('', 'All')} · ${filter('open', 'Open')} · ${filter('closed', 'Closed')}</p>
    ${table(
      ['Opened', 'Subject', 'Status', 'Targets', 'Record'],
      rows.map((c) => [
        time(c.opened_at),
        c.subject_nhi
          ? html`${c.subject_nhi.type} ${c.nhi_name ?? c.subject_nhi.id}
              <span class="muted">${c.action && `(${c.action})`}</span>`
          : html`<a href="/console/users/${c.user_id}">${c.email ?? c.user_id}</a>`,
        html`${c.status}${c.close_reason && ` (${c.close_reason})`}`,
        c.targets_state ?? '—',
        html`<a href="/console/containments/${c.id}">${c.id}</a>`,
      ]),
      { empty: html`<p class="muted">No containment.</p>` },
    )}
    ${rows.length === LIST_LIMIT && html`<p class="muted">The newest ${LIST_LIMIT} are shown.</p>`}`;
}

export function containmentPages(app: FastifyInstance, core: Core): void {
  const admins = consoleGuard(core, { roles: ADMIN_ROLES });
  const options = { schema: { hide: true }, preHandler: admins };

  app.get<{ Querystring: { status?: string } }>('/console/containments', options, async (request, reply) => {
    const person = personOf(request);
    const given = request.query.status;
    const status = given === 'open' || given === 'closed' ? given : undefined;
    const rows = await listContainmentSummaries(core.database.db, {
      accountId: person.accountId,
      status,
      limit: LIST_LIMIT,
    });
    return sendHtml(reply, page(person, { title: 'Containments', section: 'incidents', body: listBody(rows, status) }));
  });

  app.get<{ Params: { containment: string }; Querystring: { done?: string } }>(
    '/console/containments/:containment',
    options,
    async (request, reply) => {
      const done = request.query.done;
      const flash = done !== undefined && Object.hasOwn(DONE, done) ? { done } : undefined;
      const text = await renderContainment(core, personOf(request), request.params.containment, flash);
      return reply.type('text/html; charset=utf-8').send(text);
    },
  );

  app.post<{ Params: { containment: string } }>(
    '/console/containments/:containment/restore',
    options,
    async (request, reply) => restore(core, request, reply),
  );

  app.post<{ Params: { containment: string } }>(
    '/console/containments/:containment/read-secret',
    options,
    async (request, reply) => readSecret(core, request, reply),
  );
}

/** Reads the record's new secret once, as the person, and shows it on a page no browser keeps. */
async function readSecret(
  core: Core,
  request: FastifyRequest<{ Params: { containment: string } }>,
  reply: FastifyReply,
) {
  const person = personOf(request);
  const id = request.params.containment;
  if (!ID.test(id)) throw notFound(id);
  try {
    const deps = { ...core.response, keys: core.keys, issuer: core.issuer };
    const read = await readContainmentSecret(deps, person.ctx, person.accountId, id);
    const owner = await readNhiOwner(core.database.db, person.accountId, read.subject);
    const body = secretBody(read, owner);
    const shown = page(person, { title: 'The new secret', section: 'incidents', body });
    return await sendHtml(reply.header('cache-control', 'no-store'), shown);
  } catch (error) {
    if (!isAppError(error) || error.httpStatus >= 500) throw error;
    await auditRefusal(core, person, id, error, request, 'containment.secret_read');
    const flash = { kind: 'bad' as const, text: error.description };
    const found = await findContainment(core.database.db, person.accountId, id);
    if (!found) throw notFound(id);
    return reply
      .status(error.httpStatus)
      .type('text/html; charset=utf-8')
      .send(await renderContainment(core, person, id, flash));
  }
}

async function restore(core: Core, request: FastifyRequest<{ Params: { containment: string } }>, reply: FastifyReply) {
  const person = personOf(request);
  const id = request.params.containment;
  if (!ID.test(id)) throw notFound(id);
  const reason = (request.body as Record<string, unknown> | undefined)?.['reason'];
  try {
    if (reason !== 'restored' && reason !== 'false_positive')
      throw new AppError('INVALID_ARGUMENT', { description: 'the reason is restored or false_positive' });
    const outcome = await requestRestore(core.response, approverOf(person), person.accountId, id, reason);
    throw new Redirect(`/console/containments/${id}?done=${outcome.status === 'restored' ? reason : 'pending'}`);
  } catch (error) {
    if (!isAppError(error) || error.httpStatus >= 500) throw error;
    await auditRefusal(core, person, id, error, request);
    if (error.code === 'CONTAINMENT_NOT_FOUND') throw error;
    const flash = { kind: 'bad' as const, text: error.description };
    return reply
      .status(error.httpStatus)
      .type('text/html; charset=utf-8')
      .send(await renderContainment(core, person, id, flash));
  }
}

/** A refused restore, recorded as the API's route records it (outcome refused, the error's code). */
async function auditRefusal(
  core: Core,
  person: ConsolePerson,
  id: string,
  error: AppError,
  request: FastifyRequest,
  action: 'containment.restore' | 'containment.secret_read' = 'containment.restore',
) {
  if (error.audited || error.code === 'UNAVAILABLE') return;
  await core.audit
    .record({
      accountId: person.accountId,
      ctx: person.ctx,
      action,
      target: { type: 'containment', id },
      outcome: 'refused',
      details: { code: error.code },
    })
    .catch((failure: unknown) => request.log.error({ err: failure }, `could not audit a refused ${action}`));
}
