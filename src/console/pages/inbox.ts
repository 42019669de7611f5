/**
 * The approvals inbox, the landing page for approvers (OWNERs, ADMINs, the approver group; anyone else
 * is refused): every pending plan, read in one statement (store/inbox.ts). The list is a fragment the
 * page polls every two seconds with htmx; a poll that finds nothing changed answers 204, which htmx does
 * not swap, so an opened raw alert stays open and a new plan appears without a reload. A poll does not
 * count as use of the session (its idle timeout still ends it). Deciding happens on the plan page
 * (plan.ts), whose forms nothing polls. Above it, a maker of apps sees which of theirs are contained (a
 * leaked secret's record, still open), with a link to each record.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Core } from '../../core.js';
import { AppError } from '../../errors.js';
import { approverByRole } from '../../response/approvers.js';
import { readInbox, type Inbox } from '../../store/inbox.js';
import { listOpenContainmentsOfMaker } from '../../store/nhi-names.js';
import { html, json, type Html } from '../html.js';
import { page } from '../layout.js';
import { sendHtml } from '../routes.js';
import { consoleGuard, personOf, type ConsolePerson } from '../session.js';
import { inboxList } from './inbox-view.js';
import { madeAppsNotice } from './nhi-containment-view.js';

/** The most records of a maker's apps the home page lists. */
const MADE_APPS_LIMIT = 5;

export const PLAN_ID = /^[A-Z2-7]{26}$/;

/** The inbox (or one plan) as `person` may see it; refused when they are no approver. */
export async function inboxOf(core: Core, person: ConsolePerson, planId?: string, raw = false): Promise<Inbox> {
  if (planId !== undefined && !PLAN_ID.test(planId))
    throw new AppError('PLAN_NOT_FOUND', { metadata: { plan_id: planId.slice(0, 64) } });
  const inbox = await readInbox(
    core.database.db,
    {
      accountId: person.accountId,
      userId: person.session.user_id,
      approverByRole: approverByRole(person.session.user.role),
    },
    planId,
    raw,
  );
  if (!inbox.approver)
    throw new AppError('PERMISSION_DENIED', {
      description: 'plans are for OWNERs, ADMINs and members of the approver group',
    });
  return inbox;
}

/** The polled list, with the version of what it shows: a poll from the same version gets a 204. */
function inboxSection(inbox: Inbox, userId: string): { section: Html; version: string } {
  const list = inboxList(inbox.plans, userId);
  const version = createHash('sha256').update(list.text).digest('base64url').slice(0, 16);
  const section = html`<section
    id="inbox"
    aria-label="Pending plans"
    aria-live="polite"
    hx-get="/console/inbox?v=${version}"
    hx-trigger="every 2s"
    hx-swap="outerHTML"
  >
    ${list}
  </section>`;
  return { section, version };
}

export function inboxPages(app: FastifyInstance, core: Core): void {
  const guard = { schema: { hide: true }, preHandler: consoleGuard(core) };

  app.get('/console', guard, async (request, reply) => {
    const person = personOf(request);
    const [inbox, made] = await Promise.all([
      inboxOf(core, person),
      listOpenContainmentsOfMaker(core.database.db, person.accountId, person.session.user_id, MADE_APPS_LIMIT),
    ]);
    const { section } = inboxSection(inbox, person.session.user_id);
    const body = html`${madeAppsNotice(made)} ${section}`;
    return sendHtml(reply, page(person, { title: 'Approvals', section: 'inbox', body }));
  });

  // The page polls this on its own: a poll is no use of the session, which still ends when idle.
  const poll = { schema: { hide: true }, preHandler: consoleGuard(core, { passive: true }) };
  app.get<{ Querystring: { v?: string } }>('/console/inbox', poll, async (request, reply) => {
    const person = personOf(request);
    const { section, version } = inboxSection(await inboxOf(core, person), person.session.user_id);
    if (request.query.v === version) return reply.status(204).send();
    return sendHtml(reply, section);
  });

  app.get<{ Params: { plan: string } }>('/console/plans/:plan/alert', guard, async (request, reply) => {
    const [plan] = (await inboxOf(core, personOf(request), request.params.plan, true)).plans;
    if (!plan?.signal) throw new AppError('PLAN_NOT_FOUND', { metadata: { plan_id: request.params.plan } });
    return sendHtml(reply, json(plan.signal.raw));
  });
}
