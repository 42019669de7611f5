/**
 * Playbooks, for OWNER and ADMIN (as the API allows): each playbook's current version, a playbook's
 * versions with a line diff between two of them, lint of a pasted playbook (the checks an apply makes
 * before it writes anything, so nothing is written), and the dry run of a pasted alert (the API's
 * `signals::plan`: the normalised signal and the plan it would get, every verdict, nothing written).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Core } from '../../core.js';
import { AppError, isAppError } from '../../errors.js';
import { ADMIN_ROLES } from '../../http/guards/session.js';
import { dryRunView } from '../../http/views/plans.js';
import { planSignal } from '../../response/engine.js';
import { mapSignal } from '../../response/intake/index.js';
import { INTAKE_FORMATS, type IntakeFormat } from '../../response/intake/signal.js';
import { lintPlaybook, parsePlaybookText, PlaybookTextError } from '../../response/playbook.js';
import { latestPlaybooks, playbookHistory } from '../../store/playbooks.js';
import { unknownTargetNames } from '../../targets/steps.js';
import { page, type PageOptions } from '../layout.js';
import { sendHtml } from '../routes.js';
import { consoleGuard, personOf, type ConsolePerson } from '../session.js';
import { playbookBody, playbooksBody, type DryRunForm, type LintResult, type ToolsView } from './playbooks-view.js';
import { formText } from '../form.js';

const MAX_TEXT = 256 * 1024;

/** What lint says of pasted playbook text: per document, the problems an apply would refuse it for. */
export async function lintText(core: Core, accountId: string, source: string): Promise<LintResult[]> {
  let documents: unknown[];
  try {
    documents = parsePlaybookText(source);
  } catch (error) {
    if (error instanceof PlaybookTextError) return [{ name: '(text)', problems: [error.message] }];
    throw error;
  }
  const seen = new Set<string>();
  const results: LintResult[] = [];
  for (const [i, document] of documents.entries()) {
    const named = (document as { name?: unknown } | null)?.name;
    const name = typeof named === 'string' ? named : `#${i + 1}`;
    const problems = lintPlaybook(document).map((p) => `${p.path || '/'} ${p.message}`);
    const targets = (document as { targets?: unknown }).targets;
    if (problems.length === 0 && Array.isArray(targets)) {
      const unknown = await unknownTargetNames(core.database.db, accountId, targets as string[]);
      if (unknown.length > 0) problems.push(`/targets names no target of this account: ${unknown.join(', ')}`);
    }
    if (seen.has(name)) problems.push(`${name} is given twice`);
    seen.add(name);
    results.push({ name, problems });
  }
  return results;
}

export function playbookPages(app: FastifyInstance, core: Core): void {
  const guard = { schema: { hide: true }, preHandler: consoleGuard(core, { roles: ADMIN_ROLES }) };

  const index = async (
    reply: FastifyReply,
    person: ConsolePerson,
    tools: ToolsView,
    flash?: PageOptions['flash'],
    status = 200,
  ) => {
    const playbooks = await latestPlaybooks(core.database.db, person.accountId);
    const body = playbooksBody(person, playbooks, tools);
    return sendHtml(reply, page(person, { title: 'Playbooks', section: 'playbooks', body, flash }), status);
  };

  app.get('/console/playbooks', guard, async (request, reply) => index(reply, personOf(request), {}));

  app.post('/console/playbooks/lint', guard, async (request, reply) => {
    const person = personOf(request);
    const source = formText(request.body, 'playbook', MAX_TEXT);
    const lint = await lintText(core, person.accountId, source);
    const bad = lint.some((r) => r.problems.length > 0);
    const flash = bad
      ? { kind: 'bad' as const, text: 'The playbook has problems: an apply would refuse it.' }
      : { kind: 'good' as const, text: `Lint passed: ${lint.length} playbook${lint.length === 1 ? '' : 's'} OK.` };
    return index(reply, person, { lint, lintText: source }, flash);
  });

  app.post('/console/playbooks/dry-run', guard, async (request, reply) => {
    const person = personOf(request);
    const form = request.body;
    const dryRun: DryRunForm = {
      signal: formText(form, 'signal', MAX_TEXT),
      format: formText(form, 'format', 20) || 'canonical',
      source: formText(form, 'source_id', 200).trim(),
    };
    try {
      if (!INTAKE_FORMATS.includes(dryRun.format as IntakeFormat))
        throw new AppError('INVALID_ARGUMENT', {
          description: `the format must be one of ${INTAKE_FORMATS.join(', ')}`,
        });
      let payload: unknown;
      try {
        payload = JSON.parse(dryRun.signal);
      } catch {
        throw new AppError('INVALID_ARGUMENT', { description: 'the alert is not JSON' });
      }
      const signal = mapSignal(dryRun.format as IntakeFormat, payload);
      const result = dryRunView(await planSignal(core.response, person.accountId, dryRun.source || 'dry-run', signal));
      return await index(reply, person, { dryRun, signal, result });
    } catch (error) {
      if (!isAppError(error) || error.httpStatus >= 500) throw error;
      return index(reply, person, { dryRun }, { kind: 'bad', text: error.description }, error.httpStatus);
    }
  });

  app.get<{ Params: { name: string }; Querystring: { from?: string; to?: string } }>(
    '/console/playbooks/:name',
    guard,
    async (request, reply) => {
      const person = personOf(request);
      const { name } = request.params;
      const versions = await playbookHistory(core.database.db, person.accountId, name.slice(0, 64));
      if (versions.length === 0) throw new AppError('NOT_FOUND', { description: `no playbook ${name}` });
      const pick = (given: string | undefined, fallback: number) => {
        const wanted = Number(given);
        return versions.find((v) => v.version === wanted) ?? versions[fallback] ?? versions[0]!;
      };
      // By default: the newest version against the one before it.
      const to = pick(request.query.to, 0);
      const from = pick(request.query.from, 1);
      const body = playbookBody(versions, from, to);
      return sendHtml(reply, page(person, { title: `Playbook ${name}`, section: 'playbooks', body }));
    },
  );
}
