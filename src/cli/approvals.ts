/**
 * `cordon approvals list|approve|deny`: plans waiting for people.
 *
 * Approving and denying are a person's acts: they go through a server's API under the session of
 * `cordon login` (the approver is that person), never as the local operator (the in-process API refuses
 * the operator too). Listing works either way (cli/remote.ts).
 */
import type { Command } from 'commander';
import type { pendingPlanView, planView } from '../http/views/plans.js';
import { printJson, printList, printTable, usageError, type CliIo } from './io.js';
import { ACCOUNT_HELP, accountPath, runAdmin, type Api, type Run } from './remote.js';

type PlanJson = ReturnType<typeof planView>;
type PendingPlanJson = ReturnType<typeof pendingPlanView>;

/** A call that only a signed-in person may make, through a server's API: never the local operator's. */
export function asPerson<T>(
  io: CliIo,
  command: string,
  account: string | undefined,
  fn: (api: Api, accountId: string) => Promise<T>,
): Promise<T> {
  return runAdmin<T>(io, command, account, (api, accountId) => {
    if (api.local)
      throw usageError(
        `${command} is a person's decision: start the server, sign in with \`cordon login\`, and try again`,
      );
    return fn(api, accountId);
  });
}

/** Approvals given of approvals required, as every command shows them: `1 of 2`. */
export const approvalsOf = (given: number, required: number) => `${given} of ${required}`;

/** What a pending plan would do and why: a suspension's playbook, or the containment a restore closes. */
function causeOf(p: PendingPlanJson): string {
  if (p.action === 'restore' || (!p.playbook && p.containment_id))
    return `restores containment ${p.containment_id ?? '?'}${p.restore_reason ? ` (${p.restore_reason})` : ''}`;
  return p.playbook ? `playbook ${p.playbook.name} v${p.playbook.version}` : 'by hand';
}

export function approvalsCommand(program: Command, io: CliIo, run: Run): void {
  const approvals = program.command('approvals').description('Plans waiting for people: list, approve, deny');
  approvals
    .command('list')
    .description('Pending plans (suspensions and restores), with what each would do and its action digest')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON: {"items": [plans]}')
    .action((opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const plans = await runAdmin(
          io,
          'approvals list',
          opts.account,
          async (api, accountId) =>
            (await api.call<{ plans: PendingPlanJson[] }>('GET', `${accountPath(accountId)}/approvals`)).plans,
        );
        if (opts.json) return printList(io, plans);
        printTable(
          io,
          ['Plan', 'Action', 'Subject', 'Signal', 'Cause', 'Approvals', 'Expires', 'Digest'],
          plans.map((p) => [
            p.id ?? '',
            p.action,
            p.subject ? `${p.subject.display_name} <${p.subject.email}>` : '(user deleted)',
            p.signal ? `${p.signal.title} (${p.signal.severity})` : '',
            causeOf(p),
            approvalsOf(p.approvals_given, p.approvals_required),
            p.expire_time ?? '',
            p.action_digest?.slice(0, 16) ?? '',
          ]),
          'no plan waits for approval',
        );
      }),
    );
  for (const verb of ['approve', 'deny'] as const) {
    approvals
      .command(`${verb} <plan>`)
      .description(
        verb === 'approve'
          ? 'Approve a pending plan (the last approval needed executes it), bound to the action digest it shows'
          : 'Deny a pending plan',
      )
      .requiredOption('--reason <text>', 'why (kept in the audit entry)')
      .option('--digest <sha256>', 'the action digest you reviewed (default: the one the plan shows now)')
      .option('--account <id>', ACCOUNT_HELP)
      .option('--json', 'print JSON')
      .action((planId: string, opts: { reason: string; digest?: string; account?: string; json?: boolean }) =>
        run(async () => {
          const result = await asPerson(io, `approvals ${verb}`, opts.account, async (api, accountId) => {
            const path = `${accountPath(accountId)}/plans/${encodeURIComponent(planId)}`;
            const digest = opts.digest ?? (await api.call<PlanJson>('GET', path)).action_digest;
            return api.call<{ plan: PlanJson; decisions: Array<{ approver_id: string; decision: string }> }>(
              'POST',
              `${path}:${verb}`,
              { reason: opts.reason, action_digest: digest ?? '' },
            );
          });
          if (opts.json) return printJson(io, result);
          const given = result.decisions.filter((d) => d.decision === 'approve').length;
          io.stdout.write(
            `plan ${result.plan.id}: ${result.plan.status} ` +
              `(${approvalsOf(given, result.plan.approvals_required)} approvals)\n`,
          );
        }),
      );
  }
}
