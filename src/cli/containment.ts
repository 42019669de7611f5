/**
 * Approvals, containments and `cordon explain` at the command line.
 *
 * Approving, denying and restoring are a person's acts: they go through the API under the session of
 * `cordon login` (the approver is that person), never directly on the database. Reading works both ways.
 * `cordon explain ID` prints the chain behind an action and checks the action entry's inclusion proof
 * against the signed checkpoint here; it exits non-zero when the proof does not verify.
 */
import type { Command } from 'commander';
import { AppError } from '../errors.js';
import { containmentView } from '../http/views/containments.js';
import { explanationView, type ExplanationView as Explanation } from '../http/views/explain.js';
import { planView } from '../http/views/plans.js';
import { explain } from '../response/explain.js';
import { findContainment, listContainments } from '../store/containments.js';
import { listPlans } from '../store/plans.js';
import { checkEntryProof } from './audit.js';
import { EXIT, printJson, printTable, Reported, usageError, type CliIo } from './io.js';
import { ACCOUNT_HELP, accountPath, runAdmin, type ApiClient, type Run } from './remote.js';

type PlanJson = ReturnType<typeof planView>;
type ContainmentJson = ReturnType<typeof containmentView>;

const PERSON_ONLY = (what: string) => () => {
  throw usageError(`${what} is a person's decision: start the server, sign in with \`cordon login\`, and try again`);
};

export function containmentCommand(program: Command, io: CliIo, run: Run): void {
  /** A call that only a signed-in person may make, through the API. */
  const asPerson = <T>(command: string, account: string | undefined, fn: (client: ApiClient, accountId: string) => Promise<T>) =>
    runAdmin<T>(io, command, account, { direct: PERSON_ONLY(command), api: fn });

  const approvals = program.command('approvals').description('Plans waiting for people: list, approve, deny');
  approvals
    .command('list')
    .description('Pending plans (suspensions and restores), with what each would do and its action digest')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const plans = await runAdmin<PlanJson[]>(io, 'approvals list', opts.account, {
          direct: async (core, accountId) => (await listPlans(core.database.db, { accountId, status: 'pending_approval', limit: 1000 })).map(planView),
          api: async (client, accountId) => (await client.call<{ plans: PlanJson[] }>('GET', `${accountPath(accountId)}/approvals`)).plans,
        });
        if (opts.json) return printJson(io, plans);
        printTable(
          io,
          ['Plan', 'Action', 'Subject', 'Playbook', 'Approvals', 'Expires', 'Digest'],
          plans.map((p) => [p.id, p.action, p.subject_user_id ?? '', p.playbook ? `${p.playbook.name} v${p.playbook.version}` : (p.containment_id ?? ''), String(p.approvals_required), p.expire_time ?? '', p.action_digest?.slice(0, 16) ?? '']),
        );
      }),
    );
  for (const verb of ['approve', 'deny'] as const) {
    approvals
      .command(`${verb} <plan>`)
      .description(verb === 'approve' ? 'Approve a pending plan (the last approval needed executes it), bound to the action digest it shows' : 'Deny a pending plan')
      .requiredOption('--reason <text>', 'why (kept in the audit entry)')
      .option('--digest <sha256>', 'the action digest you reviewed (default: the one the plan shows now)')
      .option('--account <id>', ACCOUNT_HELP)
      .option('--json', 'print JSON')
      .action((planId: string, opts: { reason: string; digest?: string; account?: string; json?: boolean }) =>
        run(async () => {
          const result = await asPerson(`approvals ${verb}`, opts.account, async (client, accountId) => {
            const path = `${accountPath(accountId)}/plans/${encodeURIComponent(planId)}`;
            const digest = opts.digest ?? (await client.call<PlanJson>('GET', path)).action_digest;
            return client.call<{ plan: PlanJson; decisions: Array<{ approver_id: string; decision: string }> }>('POST', `${path}:${verb}`, { reason: opts.reason, action_digest: digest ?? '' });
          });
          if (opts.json) return printJson(io, result);
          io.stdout.write(`plan ${result.plan.id}: ${result.plan.status} (${result.decisions.filter((d) => d.decision === 'approve').length}/${result.plan.approvals_required} approvals)\n`);
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
        const rows = await runAdmin<ContainmentJson[]>(io, 'containments list', opts.account, {
          direct: async (core, accountId) => (await listContainments(core.database.db, { accountId, status, limit: 1000 })).map(containmentView),
          api: async (client, accountId) => (await client.call<{ containments: ContainmentJson[] }>('GET', `${accountPath(accountId)}/containments?max_page_size=1000${status ? '&status=open' : ''}`)).containments,
        });
        if (opts.json) return printJson(io, rows);
        printTable(io, ['Containment', 'User', 'Plan', 'Locked', 'Status', 'Opened', 'Restore after'], rows.map((c) => [c.id, c.user_id, c.plan_id ?? '(by hand)', c.locked ? 'yes' : 'no', c.close_reason ? `closed: ${c.close_reason}` : c.status, c.open_time, c.restore_after_time ?? '']));
      }),
    );
  containments
    .command('show <containment>')
    .description('One record: its snapshot, cause, who opened it, and how it closed')
    .option('--account <id>', ACCOUNT_HELP)
    .action((id: string, opts: { account?: string }) =>
      run(async () => {
        const record = await runAdmin<ContainmentJson>(io, 'containments show', opts.account, {
          direct: async (core, accountId) => {
            const row = await findContainment(core.database.db, accountId, id);
            if (!row) throw new AppError('CONTAINMENT_NOT_FOUND', { metadata: { containment_id: id } });
            return containmentView(row);
          },
          api: (client, accountId) => client.call<ContainmentJson>('GET', `${accountPath(accountId)}/containments/${encodeURIComponent(id)}`),
        });
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
        const result = await asPerson('containments restore', opts.account, (client, accountId) =>
          client.call<{ status: string; plan: PlanJson; drift: unknown; verification: Record<string, boolean> | null }>('POST', `${accountPath(accountId)}/containments/${encodeURIComponent(id)}:restore`, {
            reason: opts.falsePositive ? 'false_positive' : 'restored',
          }),
        );
        if (opts.json) return printJson(io, result);
        if (result.status !== 'restored') return void io.stdout.write(`restore plan ${result.plan.id} waits for ${result.plan.approvals_required} approvals (cordon approvals approve ${result.plan.id})\n`);
        io.stdout.write(`restored; drift ${JSON.stringify(result.drift)}; verified: ${Object.entries(result.verification ?? {}).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
      }),
    );

  program
    .command('explain <id>')
    .description('The chain behind an action (plan id, containment id or audit index): signal, playbook, verdicts, approvals, executing principal and token, outcome, and the audit entry with its inclusion proof verified against a signed checkpoint')
    .option('--key <verifier-key>', 'the checkpoint key you trust (default: the one the server serves)')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print the chain as JSON (with "verified")')
    .action((id: string, opts: { key?: string; account?: string; json?: boolean }) =>
      run(async () => {
        if (!/^([A-Z2-7]{26}|\d{1,15})$/.test(id)) throw usageError(`id: expected a plan or containment id or an audit index, got "${id}"`);
        // A fresh action may not be under a signed checkpoint yet: ask again for a few seconds.
        const fetch = (get: () => Promise<Explanation>) => waitForProof(get);
        const chain = await runAdmin<Explanation>(io, 'explain', opts.account, {
          direct: (core, accountId) => fetch(async () => explanationView(await explain({ db: core.database.db, checkpointKey: core.checkpointKey }, accountId, id))),
          api: (client, accountId) => fetch(() => client.call<Explanation>('GET', `${accountPath(accountId)}/explain/${id}`)),
        });
        const check = chain.proof ? checkEntryProof(chain.proof, opts.key) : undefined;
        // The proven entry must be the one the chain shows.
        const verified = check?.ok === true && chain.action !== null && JSON.stringify(chain.proof!.entry) === JSON.stringify(chain.action);
        if (opts.json) printJson(io, { ...chain, verified });
        else printChain(io, chain, verified, check?.summary);
        if (!verified) {
          io.stderr.write(`cordon: ${chain.action ? `audit entry ${chain.action.idx} is NOT proven by a signed checkpoint` : 'no audit entry records this action'}\n`);
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

/** The authorization an audit entry records, as its writers fill it in (the guards, the executor, the approvers). */
interface RecordedAuthz {
  method?: string;
  jti?: string;
  permissions?: unknown;
  approved_by?: unknown;
}

function printChain(io: CliIo, c: Explanation, verified: boolean, proofSummary: string | undefined): void {
  const line = (label: string, text: string) => io.stdout.write(`${label.padEnd(11)}${text}\n`);
  const s = c.signal as { id: string; type: string; title: string; severity: string; confidence: number; source_id: string; external_id: string; false_positive: boolean } | null;
  line('signal', s ? `${s.id} ${s.type} "${s.title}" severity ${s.severity}, confidence ${s.confidence}, source ${s.source_id}, external id ${s.external_id}${s.false_positive ? ' (FALSE POSITIVE)' : ''}` : 'none (not engine-driven)');
  if (c.submitted_by) {
    const a = c.submitted_by.authz as RecordedAuthz;
    line('submitted', `by ${c.submitted_by.actor.type}:${c.submitted_by.actor.id} (${a['method']}${a['jti'] ? `, token jti ${a['jti']}` : ''}${Array.isArray(a['permissions']) ? `, permissions ${(a['permissions'] as string[]).join(' ')}` : ''}), audit #${c.submitted_by.index}`);
  }
  line('playbook', c.playbook ? `${c.playbook.name} v${c.playbook.version} (sha256 ${c.playbook.content_hash ?? '?'})` : 'none');
  if (c.plan) {
    line('plan', `${c.plan.id} ${c.plan.action} ${c.plan.status}, policy v${c.plan.policy_version}${c.plan.action_digest ? `, digest ${c.plan.action_digest}` : ''}`);
    for (const v of c.plan.verdicts) line('  verdict', `${v.step}: ${v.outcome} — ${v.reason}`);
  }
  if (c.approvals.length === 0) line('approvals', 'none');
  for (const a of c.approvals) line('approval', `${a.approver_id} ${a.decision} at ${a.time}: ${a.reason}`);
  if (c.action) {
    const z = c.action.authz as RecordedAuthz;
    line('executed', `by ${c.action.actor_type}:${c.action.actor_id} (${z['method']}${z['jti'] ? `, token jti ${z['jti']}` : ''}${Array.isArray(z['permissions']) ? `, permissions ${(z['permissions'] as string[]).join(' ')}` : ''}${Array.isArray(z['approved_by']) ? `, approved by ${(z['approved_by'] as string[]).join(' ')}` : ''})`);
  }
  const o = c.outcome;
  line('outcome', `plan ${o.plan_status ?? '-'}; user ${o.user_id ?? '-'} ${o.user_state ?? ''}${o.containment ? `; containment ${String(o.containment['id'])} ${String(o.containment['status'])}${o.containment['close_reason'] ? ` (${String(o.containment['close_reason'])})` : ''}` : ''}`);
  line('audit', c.action ? `#${c.action.idx} ${c.action.action} ${c.action.outcome} — ${verified ? `proven: ${proofSummary}` : 'NOT proven'}` : 'no entry');
}
