/**
 * Approvals, containments and `cordon explain` at the command line.
 *
 * Approving, denying and restoring are a person's acts: they go through a server's API under the
 * session of `cordon login` (the approver is that person), never as the local operator (the in-process
 * API refuses the operator too). Reading works either way (cli/remote.ts).
 * `cordon explain ID` prints the chain behind an action and checks the action entry's inclusion proof
 * against the signed checkpoint here; it exits non-zero when the proof does not verify.
 */
import type { Command } from 'commander';
import type { containmentView } from '../http/views/containments.js';
import type { ExplanationView as Explanation } from '../http/views/explain.js';
import type { pendingPlanView, planView } from '../http/views/plans.js';
import { checkEntryProof } from './audit.js';
import { printRestoreTargets, printTargets } from './steps.js';
import { asText, EXIT, printJson, printTable, Reported, usageError, type CliIo } from './io.js';
import { ACCOUNT_HELP, accountPath, runAdmin, type Api, type Run } from './remote.js';

type PlanJson = ReturnType<typeof planView>;
type PendingPlanJson = ReturnType<typeof pendingPlanView>;
type ContainmentJson = ReturnType<typeof containmentView>;

export function containmentCommand(program: Command, io: CliIo, run: Run): void {
  /** A call that only a signed-in person may make, through a server's API: never the local operator's. */
  const asPerson = <T>(command: string, account: string | undefined, fn: (api: Api, accountId: string) => Promise<T>) =>
    runAdmin<T>(io, command, account, (api, accountId) => {
      if (api.local)
        throw usageError(
          `${command} is a person's decision: start the server, sign in with \`cordon login\`, and try again`,
        );
      return fn(api, accountId);
    });

  const approvals = program.command('approvals').description('Plans waiting for people: list, approve, deny');
  approvals
    .command('list')
    .description('Pending plans (suspensions and restores), with what each would do and its action digest')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const plans = await runAdmin(
          io,
          'approvals list',
          opts.account,
          async (api, accountId) =>
            (await api.call<{ plans: PendingPlanJson[] }>('GET', `${accountPath(accountId)}/approvals`)).plans,
        );
        if (opts.json) return printJson(io, plans);
        printTable(
          io,
          ['Plan', 'Action', 'Subject', 'Signal', 'Playbook', 'Approvals', 'Expires', 'Digest'],
          plans.map((p) => [
            p.id,
            p.action,
            p.subject ? `${p.subject.display_name} <${p.subject.email}>` : (p.subject_user_id ?? ''),
            p.signal ? `${p.signal.title} (${p.signal.severity})` : '',
            p.playbook ? `${p.playbook.name} v${p.playbook.version}` : (p.containment_id ?? ''),
            String(p.approvals_required),
            p.expire_time ?? '',
            p.action_digest?.slice(0, 16) ?? '',
          ]),
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
          const result = await asPerson(`approvals ${verb}`, opts.account, async (api, accountId) => {
            const path = `${accountPath(accountId)}/plans/${encodeURIComponent(planId)}`;
            const digest = opts.digest ?? (await api.call<PlanJson>('GET', path)).action_digest;
            return api.call<{ plan: PlanJson; decisions: Array<{ approver_id: string; decision: string }> }>(
              'POST',
              `${path}:${verb}`,
              { reason: opts.reason, action_digest: digest ?? '' },
            );
          });
          if (opts.json) return printJson(io, result);
          io.stdout.write(
            `plan ${result.plan.id}: ${result.plan.status} ` +
              `(${result.decisions.filter((d) => d.decision === 'approve').length}/${result.plan.approvals_required} ` +
              `approvals)\n`,
          );
        }),
      );
  }

  const containments = program.command('containments').description('Containment records: list, show, restore');
  containments
    .command('list')
    .description('Containment records, newest first')
    .option('--open', 'only open ones')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((opts: { open?: boolean; account?: string; json?: boolean }) =>
      run(async () => {
        const status = opts.open ? ('open' as const) : undefined;
        const rows = await runAdmin(
          io,
          'containments list',
          opts.account,
          async (api, accountId) =>
            (
              await api.call<{ containments: ContainmentJson[] }>(
                'GET',
                `${accountPath(accountId)}/containments?max_page_size=1000${status ? '&status=open' : ''}`,
              )
            ).containments,
        );
        if (opts.json) return printJson(io, rows);
        printTable(
          io,
          ['Containment', 'User', 'Plan', 'Locked', 'Status', 'Opened', 'Restore after'],
          rows.map((c) => [
            c.id,
            c.user_id,
            c.plan_id ?? '(by hand)',
            c.locked ? 'yes' : 'no',
            c.close_reason ? `closed: ${c.close_reason}` : c.status,
            c.open_time,
            c.restore_after_time ?? '',
          ]),
        );
      }),
    );
  containments
    .command('show <containment>')
    .description('One record: its snapshot, cause, who opened it, and how it closed')
    .option('--account <id>', ACCOUNT_HELP)
    .action((id: string, opts: { account?: string }) =>
      run(async () => {
        const record = await runAdmin(io, 'containments show', opts.account, (api, accountId) =>
          api.call<ContainmentJson>('GET', `${accountPath(accountId)}/containments/${encodeURIComponent(id)}`),
        );
        printJson(io, record);
      }),
    );
  containments
    .command('restore <containment>')
    .description('Restore the user through the record under the restore policy; you count as the first approval')
    .option('--false-positive', 'the signal was wrong: mark it, and free its breaker slot')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((id: string, opts: { falsePositive?: boolean; account?: string; json?: boolean }) =>
      run(async () => {
        const result = await asPerson('containments restore', opts.account, (api, accountId) =>
          api.call<{
            status: string;
            plan: PlanJson;
            drift: unknown;
            verification: Record<string, boolean> | null;
            targets?: Array<Record<string, unknown>>;
          }>('POST', `${accountPath(accountId)}/containments/${encodeURIComponent(id)}:restore`, {
            reason: opts.falsePositive ? 'false_positive' : 'restored',
          }),
        );
        if (opts.json) return printJson(io, result);
        if (result.status !== 'restored')
          return void io.stdout.write(
            `restore plan ${result.plan.id} waits for ${result.plan.approvals_required} approvals ` +
              `(cordon approvals approve ${result.plan.id})\n`,
          );
        io.stdout.write(
          `restored; drift ${JSON.stringify(result.drift)}; verified: ${Object.entries(result.verification ?? {})
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}\n`,
        );
        printRestoreTargets(io, result.targets ?? []);
      }),
    );

  program
    .command('explain <id>')
    .description(
      'The chain behind an action (plan id, containment id or audit index): signal, playbook, verdicts, approvals, ' +
        'executing principal and token, outcome, and the audit entry with its inclusion proof verified against a ' +
        'signed checkpoint',
    )
    .option('--key <verifier-key>', 'the checkpoint key you trust (default: the one the server serves)')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print the chain as JSON (with "verified")')
    .action((id: string, opts: { key?: string; account?: string; json?: boolean }) =>
      run(async () => {
        if (!/^([A-Z2-7]{26}|\d{1,15})$/.test(id))
          throw usageError(`id: expected a plan or containment id or an audit index, got "${id}"`);
        // A fresh action may not be under a signed checkpoint yet: ask again for a few seconds.
        const fetch = (get: () => Promise<Explanation>) => waitForProof(get);
        const chain = await runAdmin(io, 'explain', opts.account, (api, accountId) =>
          fetch(() => api.call<Explanation>('GET', `${accountPath(accountId)}/explain/${id}`)),
        );
        const check = chain.proof ? checkEntryProof(chain.proof, opts.key) : undefined;
        // The proven entry must be the one the chain shows.
        const verified =
          check?.ok === true &&
          chain.action !== null &&
          JSON.stringify(chain.proof!.entry) === JSON.stringify(chain.action);
        if (opts.json) printJson(io, { ...chain, verified });
        else printChain(io, chain, verified, check?.summary);
        if (!verified) {
          const why = chain.action
            ? `audit entry ${chain.action.idx} is NOT proven by a signed checkpoint`
            : 'no audit entry records this action';
          io.stderr.write(`cordon: ${why}\n`);
          throw new Reported(EXIT.FAILURE);
        }
      }),
    );
}

async function waitForProof(get: () => Promise<Explanation>): Promise<Explanation> {
  for (let attempt = 0; ; attempt++) {
    const chain = await get();
    if (chain.proof || !chain.action || attempt >= 20) return chain;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function printChain(io: CliIo, c: Explanation, verified: boolean, proofSummary: string | undefined): void {
  const line = (label: string, text: string) => io.stdout.write(`${label.padEnd(11)}${text}\n`);
  const s = c.signal as {
    id: string;
    type: string;
    title: string;
    severity: string;
    confidence: number;
    source_id: string;
    external_id: string;
    false_positive: boolean;
  } | null;
  line(
    'signal',
    s
      ? `${s.id} ${s.type} "${s.title}" severity ${s.severity}, confidence ${s.confidence}, source ${s.source_id}, ` +
          `external id ${s.external_id}${s.false_positive ? ' (FALSE POSITIVE)' : ''}`
      : 'none (not engine-driven)',
  );
  if (c.submitted_by) {
    const a = c.submitted_by.authz;
    line(
      'submitted',
      `by ${c.submitted_by.actor.type}:${c.submitted_by.actor.id} (${asText(a['method'])}` +
        `${a['jti'] ? `, token jti ${asText(a['jti'])}` : ''}` +
        `${Array.isArray(a['permissions']) ? `, permissions ${(a['permissions'] as string[]).join(' ')}` : ''}), ` +
        `audit #${c.submitted_by.index}`,
    );
  }
  line(
    'playbook',
    c.playbook ? `${c.playbook.name} v${c.playbook.version} (sha256 ${c.playbook.content_hash ?? '?'})` : 'none',
  );
  if (c.plan) {
    line(
      'plan',
      `${c.plan.id} ${c.plan.action} ${c.plan.status}, policy v${c.plan.policy_version}` +
        `${c.plan.action_digest ? `, digest ${c.plan.action_digest}` : ''}`,
    );
    for (const v of c.plan.verdicts) line('  verdict', `${v.step}: ${v.outcome} — ${v.reason}`);
  }
  if (c.approvals.length === 0) line('approvals', 'none');
  for (const a of c.approvals) line('approval', `${a.approver_id} ${a.decision} at ${a.time}: ${a.reason}`);
  if (c.action) {
    const z = c.action.authz;
    line(
      'executed',
      `by ${c.action.actor_type}:${c.action.actor_id} (${asText(z['method'])}` +
        `${z['jti'] ? `, token jti ${asText(z['jti'])}` : ''}` +
        `${Array.isArray(z['permissions']) ? `, permissions ${(z['permissions'] as string[]).join(' ')}` : ''}` +
        `${Array.isArray(z['approved_by']) ? `, approved by ${(z['approved_by'] as string[]).join(' ')}` : ''})`,
    );
  }
  const o = c.outcome;
  const record = o.containment
    ? `; containment ${String(o.containment['id'])} ${String(o.containment['status'])}` +
      `${o.containment['close_reason'] ? ` (${String(o.containment['close_reason'])})` : ''}`
    : '';
  line('outcome', `plan ${o.plan_status ?? '-'}; user ${o.user_id ?? '-'} ${o.user_state ?? ''}${record}`);
  printTargets(line, c);
  line(
    'audit',
    c.action
      ? `#${c.action.idx} ${c.action.action} ${c.action.outcome} — ` +
          `${verified ? `proven: ${proofSummary}` : 'NOT proven'}`
      : 'no entry',
  );
}
