/**
 * Automation, for OWNER and ADMIN (the restore policy for OWNERs, as the API allows): the kill switch,
 * the blast-radius cap, tripped breakers and their reset, and the restore policy. Each form calls the
 * service the API's route calls, as the signed-in person, and answers with a redirect (PRG).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../../core.js';
import type { AuditAction } from '../../audit/actions.js';
import { AppError, isAppError } from '../../errors.js';
import { asAppError } from '../../http/error-mapping.js';
import { ADMIN_ROLES } from '../../http/guards/session.js';
import { automationView, restorePolicyView } from '../../http/views/automation.js';
import { resetBreakers, setBreakerCap, setPaused } from '../../response/automation.js';
import { MAX_BREAKER_ACTIONS } from '../../response/playbook.js';
import { setRestorePolicy } from '../../response/restores.js';
import { readAutomation } from '../../store/automation.js';
import { page, type PageOptions } from '../layout.js';
import { sendHtml } from '../routes.js';
import { consoleGuard, personOf, type ConsolePerson } from '../session.js';
import { automationBody } from './automation-view.js';
import { formText } from '../form.js';

const text = (form: unknown, name: string, max: number): string => formText(form, name).trim().slice(0, max);

/** A whole number in [min, max] from a form field, or a refusal naming the field. */
function integer(form: unknown, name: string, label: string, min: number, max: number): number {
  const given = text(form, name, 20);
  const value = /^[0-9]{1,9}$/.test(given) ? Number(given) : NaN;
  if (!(value >= min && value <= max))
    throw new AppError('INVALID_ARGUMENT', { description: `${label} must be a whole number from ${min} to ${max}` });
  return value;
}

/** The approver group field: empty for none, else a group id (as the API's schema takes it). */
function groupId(given: string): string | null {
  if (given === '') return null;
  if (!/^[A-Z2-7]{26}$/.test(given))
    throw new AppError('INVALID_ARGUMENT', { description: 'the approver group must be a group id (26 characters)' });
  return given;
}

const FLASHES: Record<string, string> = {
  paused: 'Automation is paused: every plan now waits for approval.',
  resumed: 'Automation resumed.',
  cap: 'The blast-radius cap is saved.',
  reset: 'The breakers are reset.',
  restore: 'The restore policy is saved.',
};

/**
 * Records a refused action in the account's log, as the API's routes do (`auditRefusals`): the guard's
 * refusal (a role, the CSRF token), a value out of range, a service's not-found. Only a signed-in person's:
 * a request without a session has no account to write to.
 */
async function auditRefusal(core: Core, request: FastifyRequest, action: AuditAction, error: unknown): Promise<void> {
  const person = request.console;
  if (!person || (isAppError(error) && error.audited)) return;
  const code = asAppError(error).code;
  if (code === 'UNAVAILABLE') return;
  await core.audit
    .record({
      accountId: person.accountId,
      ctx: person.ctx,
      action,
      target: { type: 'account', id: person.accountId },
      outcome: 'refused',
      details: { code },
    })
    .catch((failure: unknown) => request.log.error({ err: failure }, 'could not audit a refused console action'));
}

export function automationPages(app: FastifyInstance, core: Core): void {
  const guard = { schema: { hide: true }, preHandler: consoleGuard(core, { roles: ADMIN_ROLES }) };
  /** A form's route options: its guard, and the guard's refusals audited as `action`. */
  const form = (action: AuditAction, roles = ADMIN_ROLES) => ({
    schema: { hide: true },
    preHandler: consoleGuard(core, { roles }),
    onError: async (request: FastifyRequest, _reply: FastifyReply, error: Error) =>
      auditRefusal(core, request, action, error),
  });

  const render = async (reply: FastifyReply, person: ConsolePerson, flash: PageOptions['flash'], status = 200) => {
    const [automation, settings] = await Promise.all([
      automationView(core.database.db, person.accountId, core.response.defaults),
      readAutomation(core.database.db, person.accountId),
    ]);
    const body = automationBody(person, automation, restorePolicyView(settings));
    return sendHtml(reply, page(person, { title: 'Automation', section: 'automation', body, flash }), status);
  };

  app.get<{ Querystring: { done?: string } }>('/console/automation', guard, async (request, reply) => {
    const done = FLASHES[request.query.done ?? ''];
    return render(reply, personOf(request), done === undefined ? undefined : { kind: 'good', text: done });
  });

  /** A form's action: the service call, then back to the page; a refusal re-renders it with the reason. */
  const action =
    (audited: AuditAction, done: string, run: (person: ConsolePerson, form: unknown) => Promise<unknown>) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      const person = personOf(request);
      try {
        await run(person, request.body);
      } catch (error) {
        if (!isAppError(error) || error.httpStatus >= 500) throw error;
        await auditRefusal(core, request, audited, error);
        return render(reply, person, { kind: 'bad', text: error.description }, error.httpStatus);
      }
      return reply.redirect(`/console/automation?done=${done}`, 303);
    };

  for (const [verb, paused, done] of [
    ['pause', true, 'paused'],
    ['resume', false, 'resumed'],
  ] as const) {
    app.post(
      `/console/automation/${verb}`,
      form(`automation.${verb}`),
      action(`automation.${verb}`, done, (person, body) =>
        setPaused(core.response, person.ctx, person.accountId, paused, text(body, 'reason', 500) || undefined),
      ),
    );
  }
  app.post(
    '/console/automation/breaker',
    form('automation.breaker_cap'),
    action('automation.breaker_cap', 'cap', (person, body) =>
      setBreakerCap(core.response, person.ctx, person.accountId, {
        max_actions: integer(body, 'max_actions', 'Max actions', 1, MAX_BREAKER_ACTIONS),
        window_seconds: integer(body, 'window_seconds', 'The window', 1, 604_800),
      }),
    ),
  );
  app.post(
    '/console/automation/reset-breaker',
    form('automation.breaker_reset'),
    action('automation.breaker_reset', 'reset', (person, body) =>
      resetBreakers(core.response, person.ctx, person.accountId, text(body, 'scope', 100) || undefined),
    ),
  );
  app.post(
    '/console/automation/restore-policy',
    form('automation.restore_policy', ['OWNER']),
    action('automation.restore_policy', 'restore', (person, body) =>
      setRestorePolicy(core.response, person.ctx, person.accountId, {
        restore_approvals: integer(body, 'restore_approvals', 'Restore approvals', 0, 2),
        approver_group_id: groupId(text(body, 'approver_group_id', 64)),
      }),
    ),
  );
}
