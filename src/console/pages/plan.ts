/**
 * One plan (webhooks link here): everything the inbox shows, its raw alert, the decisions so far, and
 * for a person who may decide it the Approve and Deny forms. The action digest the page showed travels
 * in a hidden field; approving first proves a fresh authenticator code (step-up). The decision goes to
 * the API's service (decidePlan), which refuses on its own whoever may not decide: a refusal is audited
 * as the API's are and shown on the page with its status.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Core } from '../../core.js';
import { verifyStepUp } from '../../auth/step-up.js';
import { AppError, isAppError } from '../../errors.js';
import { decidePlan } from '../../response/approvals.js';
import { approverOf } from '../../response/approvers.js';
import type { InboxPlan } from '../../store/inbox.js';
import { html, table, time, type Html } from '../html.js';
import { csrfField, page, totpField, type PageOptions } from '../layout.js';
import { sendHtml } from '../routes.js';
import { consoleGuard, personOf, type ConsolePerson } from '../session.js';
import { inboxOf, PLAN_ID } from './inbox.js';
import { planCard, statusBadge, whyNotDecide } from './inbox-view.js';
import { formText } from '../form.js';

function decisionRows(plan: InboxPlan): Html {
  const rows = plan.decisions.map((d) => [
    html`<a href="/console/users/${d.approver_id}">${d.name ?? d.approver_id}</a>`,
    d.decision,
    d.reason,
    time(d.created_at),
  ]);
  return table(['Person', 'Decision', 'Reason', 'When'], rows, {
    empty: html`<p class="muted">Nobody has decided yet.</p>`,
  });
}

function decideForms(plan: InboxPlan, person: ConsolePerson): Html {
  const why = whyNotDecide(plan, person.session.user_id);
  if (why !== undefined) return html`<p class="muted why-not">${why}</p>`;
  const action = `/console/plans/${plan.id}/decisions`;
  const common = html`${csrfField(person)}<input type="hidden" name="action_digest" value="${plan.action_digest}" />`;
  return html`<form class="decide" method="post" action="${action}">
      ${common}<input type="hidden" name="decision" value="approve" />
      <label for="approve-reason"
        >Reason to approve <input id="approve-reason" name="reason" type="text" maxlength="500" required
      /></label>
      <label for="approve-code">Authenticator code (a fresh one) ${totpField('approve-code')}</label>
      <button type="submit">Approve</button>
    </form>
    <form class="decide" method="post" action="${action}">
      ${common}<input type="hidden" name="decision" value="deny" />
      <label for="deny-reason"
        >Reason to deny <input id="deny-reason" name="reason" type="text" maxlength="500" required
      /></label>
      <button class="danger" type="submit">Deny</button>
    </form>`;
}

/** What happened, after a decision: from the plan as it is now. */
function doneFlash(done: string | undefined, plan: InboxPlan): PageOptions['flash'] {
  if (done === 'deny') return { kind: 'good', text: 'You denied the plan.' };
  if (done !== 'approve') return undefined;
  if (plan.status === 'executed') return { kind: 'good', text: 'You approved the plan: it executed.' };
  if (plan.status === 'pending_approval') {
    const more = plan.approvals_required - plan.decisions.filter((d) => d.decision === 'approve').length;
    return { kind: 'good', text: `You approved the plan: waiting for ${more} more approval${more === 1 ? '' : 's'}.` };
  }
  return { kind: 'good', text: `You approved the plan; it is ${plan.status.replace('_', ' ')}.` };
}

async function planPage(
  core: Core,
  person: ConsolePerson,
  reply: FastifyReply,
  planId: string,
  flash: (plan: InboxPlan) => PageOptions['flash'],
  status = 200,
): Promise<FastifyReply> {
  const [plan] = (await inboxOf(core, person, planId, true)).plans;
  if (!plan) throw new AppError('PLAN_NOT_FOUND', { metadata: { plan_id: planId } });
  const ended =
    plan.status !== 'pending_approval' &&
    html`<p class="plan-status">
      This plan is ${statusBadge(plan.status)}
      ${
        plan.containment_id &&
        html`: its containment is <a href="/console/containments/${plan.containment_id}">${plan.containment_id}</a>`
      }
    </p>`;
  const body = html`${ended} ${planCard(plan, { userId: person.session.user_id, inline: true })}
    <section class="card" aria-labelledby="decisions">
      <h2 id="decisions">Decisions</h2>
      ${decisionRows(plan)} ${decideForms(plan, person)}
    </section>`;
  const title = `${plan.action === 'restore' ? 'Restore' : 'Suspend'} ${plan.subject?.name ?? 'plan'}`;
  return sendHtml(reply, page(person, { title, section: 'inbox', body, flash: flash(plan) }), status);
}

export function planPages(app: FastifyInstance, core: Core): void {
  const guard = { schema: { hide: true }, preHandler: consoleGuard(core) };

  app.get<{ Params: { plan: string }; Querystring: { done?: string } }>(
    '/console/plans/:plan',
    guard,
    async (request, reply) =>
      planPage(core, personOf(request), reply, request.params.plan, (plan) => doneFlash(request.query.done, plan)),
  );

  app.post<{ Params: { plan: string } }>('/console/plans/:plan/decisions', guard, async (request, reply) => {
    const person = personOf(request);
    const planId = request.params.plan;
    if (!PLAN_ID.test(planId)) throw new AppError('PLAN_NOT_FOUND', { metadata: { plan_id: planId.slice(0, 64) } });
    const form = request.body;
    const decision = formText(form, 'decision') === 'approve' ? 'approve' : 'deny';
    try {
      if (!['approve', 'deny'].includes(formText(form, 'decision')))
        throw new AppError('INVALID_ARGUMENT', { description: 'approve or deny' });
      const reason = formText(form, 'reason').trim();
      if (reason.length === 0 || reason.length > 500)
        throw new AppError('INVALID_ARGUMENT', { description: 'give a reason (up to 500 characters)' });
      const digest = formText(form, 'action_digest');
      if (!/^[0-9a-f]{64}$/.test(digest))
        throw new AppError('INVALID_ARGUMENT', { description: 'the form lost the action digest: open the plan again' });
      if (decision === 'approve')
        await verifyStepUp(core.directory, person, formText(form, 'totp').slice(0, 16), { type: 'plan', id: planId });
      await decidePlan(core.response, approverOf(person), person.accountId, planId, {
        decision,
        reason,
        actionDigest: digest,
      });
    } catch (error) {
      if (!isAppError(error) || error.httpStatus >= 500) throw error;
      if (!error.audited)
        await core.audit.record({
          accountId: person.accountId,
          ctx: person.ctx,
          action: `plan.${decision}`,
          target: { type: 'plan', id: planId },
          outcome: 'refused',
          details: { code: error.code },
        });
      if (error.headers) reply.headers(error.headers);
      const flash = { kind: 'bad' as const, text: error.description };
      return planPage(core, person, reply, planId, () => flash, error.httpStatus);
    }
    return reply.redirect(`/console/plans/${planId}?done=${decision}`, 303);
  });
}
