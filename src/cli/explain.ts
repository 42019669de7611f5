/**
 * `cordon explain ID` prints the chain behind an action, people by name (the API names whom the chain
 * mentions, in `people`), and checks the action entry's inclusion proof against the signed checkpoint
 * here; it exits non-zero when the proof does not verify. A non-human identity's chain (a leaked secret's
 * app, source or session) shows the leak and what was revoked instead of a user (nhi.ts).
 */
import type { Command } from 'commander';
import type { ExplanationView } from '../http/views/explain.js';
import { checkEntryProof } from './audit.js';
import { nhiSubjectText, printNhi } from './nhi.js';
import { printTargets } from './steps.js';
import { actorOf, asText, EXIT, personOf, printJson, Reported, usageError, type CliIo, type People } from './io.js';
import { ACCOUNT_HELP, accountPath, runAdmin, type Run } from './remote.js';

type Explanation = ExplanationView & { people: People };

export function explainCommand(program: Command, io: CliIo, run: Run): void {
  program
    .command('explain <id>')
    .description(
      'The chain behind an action (plan, containment or signal id, or audit index): signal, playbook, verdicts, ' +
        'approvals, executing principal and token, outcome, and the audit entry with its inclusion proof verified ' +
        "against a signed checkpoint; for a leaked secret's app, source or session: the leak report and URL, what " +
        'was revoked (token jtis), whether the secret was replaced, and what the app changed in the hour before',
    )
    .option('--key <verifier-key>', 'the checkpoint key you trust (default: the one the server serves)')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print the chain as JSON (with "verified")')
    .action((id: string, opts: { key?: string; account?: string; json?: boolean }) =>
      run(async () => {
        if (!/^([A-Z2-7]{26}|\d{1,15})$/.test(id))
          throw usageError(`id: expected a plan, containment or signal id or an audit index, got "${id}"`);
        // A fresh action may not be under a signed checkpoint yet: ask again for a few seconds.
        const chain = await runAdmin(io, 'explain', opts.account, (api, accountId) =>
          waitForProof(() => api.call<Explanation>('GET', `${accountPath(accountId)}/explain/${id}`)),
        );
        const check = chain.proof ? checkEntryProof(chain.proof, opts.key) : undefined;
        // The proven entry must be the one the chain shows.
        const verified =
          check?.ok === true &&
          chain.action !== null &&
          JSON.stringify(chain.proof!.entry) === JSON.stringify(chain.action);
        const { people, ...rest } = chain;
        if (opts.json) printJson(io, { ...rest, verified });
        else printChain(io, chain, people, verified, check?.summary);
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

const approvers = (people: People, ids: string[]) => ids.map((id) => personOf(people, id)).join(', ');

/** How an entry's authorization reads: method, token, permissions, and whom it names as approvers. */
function describeAuthz(people: People, a: Record<string, unknown>): string {
  return (
    `${asText(a['method'])}` +
    `${a['jti'] ? `, token jti ${asText(a['jti'])}` : ''}` +
    `${Array.isArray(a['permissions']) ? `, permissions ${(a['permissions'] as string[]).join(' ')}` : ''}` +
    `${Array.isArray(a['approved_by']) ? `, approved by ${approvers(people, a['approved_by'] as string[])}` : ''}`
  );
}

function printChain(io: CliIo, c: Explanation, people: People, verified: boolean, proofSummary?: string): void {
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
    const { actor, authz, index } = c.submitted_by;
    line('submitted', `by ${actorOf(people, actor.type, actor.id)} (${describeAuthz(people, authz)}), audit #${index}`);
  }
  line(
    'playbook',
    c.playbook
      ? `${c.playbook.name} v${c.playbook.version} (${c.playbook.version === 0 ? 'built in, ' : ''}` +
          `sha256 ${c.playbook.content_hash ?? '?'})`
      : 'none',
  );
  const nhiSubject = c.nhi && nhiSubjectText(c.nhi.subject, c.nhi.owner?.name, people);
  if (c.plan) {
    line('subject', nhiSubject ?? (personOf(people, c.plan.subject_user_id) || 'none'));
    line(
      'plan',
      `${c.plan.id} ${c.plan.action} ${c.plan.status}, policy v${c.plan.policy_version}` +
        `${c.plan.action_digest ? `, digest ${c.plan.action_digest}` : ''}`,
    );
    for (const v of c.plan.verdicts) line('  verdict', `${v.step}: ${v.outcome} — ${v.reason}`);
  }
  if (c.approvals.length === 0) line('approvals', 'none');
  for (const a of c.approvals)
    line('approval', `${personOf(people, a.approver_id)} ${a.decision} at ${a.time}: ${a.reason}`);
  if (c.action) {
    const z = c.action.authz;
    line(
      'executed',
      `by ${actorOf(people, String(c.action.actor_type), String(c.action.actor_id))} (${describeAuthz(people, z)})`,
    );
  }
  if (c.nhi) {
    if (!c.plan) line('subject', nhiSubject!);
    const record = c.outcome.containment;
    printNhi(line, c.nhi, people, record ? String(record['id']) : null);
  }
  const o = c.outcome;
  const record = o.containment
    ? `; containment ${String(o.containment['id'])} ${String(o.containment['status'])}` +
      `${o.containment['close_reason'] ? ` (${String(o.containment['close_reason'])})` : ''}`
    : '';
  const who = nhiSubject
    ? `${nhiSubject}${c.nhi!.owner?.disabled ? ' (disabled)' : ''}`
    : `user ${personOf(people, o.user_id) || '-'} ${o.user_state ?? ''}`;
  line('outcome', `plan ${o.plan_status ?? '-'}; ${who}${record}`);
  printTargets(line, c);
  line(
    'audit',
    c.action
      ? `#${c.action.idx} ${c.action.action} ${c.action.outcome} — ` +
          `${verified ? `proven: ${proofSummary}` : 'NOT proven'}`
      : 'no entry',
  );
}
