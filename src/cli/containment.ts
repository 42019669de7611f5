/**
 * `cordon containments list|show|restore`: containment records, people by name (the API names whom a
 * record mentions, in `people`). Restoring is a person's act: it goes through a server's API under the
 * session of `cordon login` (approvals.ts, asPerson); reading works either way (cli/remote.ts).
 */
import type { Command } from 'commander';
import type { containmentView } from '../http/views/containments.js';
import type { planView } from '../http/views/plans.js';
import { approvalsOf, asPerson } from './approvals.js';
import { printRestoreTargets } from './steps.js';
import {
  actorOf,
  asText,
  personOf,
  printJson,
  printList,
  printTable,
  usageError,
  type CliIo,
  type People,
} from './io.js';
import { ACCOUNT_HELP, accountPath, runAdmin, type Api, type Run } from './remote.js';

type PlanJson = ReturnType<typeof planView>;
type ContainmentJson = ReturnType<typeof containmentView>;
interface Drift {
  role: { snapshot: string; now: string } | null;
  groups_removed: string[];
  groups_added: string[];
}

const RESTORE_REASONS = ['restored', 'false_positive'] as const;

/** Who did something to a record, from its `opened_by` / `closed_by` ({actor, authz}). */
function byWhom(people: People, by: Record<string, unknown> | null): string {
  const actor = by?.['actor'] as { type?: string; id?: string } | undefined;
  return actor?.id ? actorOf(people, actor.type ?? 'actor', actor.id) : '?';
}

/** The group names of an account, for showing group ids as words (one call). */
async function groupNames(api: Api, accountId: string): Promise<Map<string, string>> {
  const { groups } = await api.call<{ groups: Array<{ id: string; name: string }> }>(
    'GET',
    `${accountPath(accountId)}/groups`,
  );
  return new Map(groups.map((g) => [g.id, g.name]));
}

/** A restore's drift (what changed between the suspension's snapshot and now) in words. */
export function describeDrift(drift: Drift | null, groups: Map<string, string>): string {
  if (!drift) return 'no drift recorded';
  const names = (ids: string[]) => ids.map((id) => groups.get(id) ?? id).join(', ');
  const parts = [
    drift.role ? `role changed from ${drift.role.snapshot} to ${drift.role.now} (kept)` : '',
    drift.groups_removed.length ? `removed from ${names(drift.groups_removed)} since (stays removed)` : '',
    drift.groups_added.length ? `added to ${names(drift.groups_added)} since (kept)` : '',
  ].filter(Boolean);
  return parts.length ? parts.join('; ') : 'nothing changed since the suspension';
}

/** A target step's drift in words: `{deleted: true}` reads "deleted", `{reactivated_elsewhere: true}` likewise. */
export const describeStepDrift = (drift: Record<string, unknown>) =>
  Object.entries(drift)
    .map(([k, v]) => (v === true ? k.replace(/_/g, ' ') : `${k.replace(/_/g, ' ')} ${asText(v)}`))
    .join('; ');

/** A restore's verification in words: each check that held, and each that did not, loudly. */
const describeVerification = (verification: Record<string, boolean> | null) =>
  Object.entries(verification ?? {})
    .map(([check, ok]) => `${ok ? '' : 'NOT '}${check.replace(/_/g, ' ')}`)
    .join(', ');

function printContainment(io: CliIo, c: ContainmentJson, people: People, groups: Map<string, string>): void {
  const line = (label: string, text: string) => io.stdout.write(`${label.padEnd(15)}${text}\n`);
  line(
    'containment',
    `${c.id} ${c.status}${c.close_reason ? ` (${c.close_reason})` : ''}${c.locked ? ', locked' : ''}`,
  );
  line('user', personOf(people, c.user_id));
  line('opened', `${c.open_time} by ${byWhom(people, c.opened_by)}`);
  line('plan', c.plan_id ?? '(by hand)');
  const s = c.snapshot;
  if (s)
    line(
      'before',
      `${s.state}, role ${s.role}, groups ${s.group_ids.map((g) => groups.get(g) ?? g).join(', ') || 'none'}; ` +
        `${s.sessions_revoked.length} session(s) revoked`,
    );
  if (c.restore_after_time) line('restore after', c.restore_after_time);
  if (c.restore_request_time) line('restore asked', c.restore_request_time);
  if (c.close_time) line('closed', `${c.close_time} by ${byWhom(people, c.closed_by)}`);
  if (c.targets_state) line('targets', c.targets_state);
  for (const step of c.steps)
    line(
      '  target',
      `${step.target_name} (${step.kind}): ${step.operation} ${step.status}` +
        `${step.observed_state ? `, seen ${step.observed_state}` : ''}` +
        `${step.drift ? `, drift: ${describeStepDrift(step.drift)}` : ''}`,
    );
}

export function containmentCommand(program: Command, io: CliIo, run: Run): void {
  const containments = program.command('containments').description('Containment records: list, show, restore');
  containments
    .command('list')
    .description('Containment records, newest first')
    .option('--open', 'only open ones')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON: {"items": [records]}')
    .action((opts: { open?: boolean; account?: string; json?: boolean }) =>
      run(async () => {
        const listed = await runAdmin(io, 'containments list', opts.account, (api, accountId) =>
          api.call<{ containments: ContainmentJson[]; people: People }>(
            'GET',
            `${accountPath(accountId)}/containments?max_page_size=1000${opts.open ? '&status=open' : ''}`,
          ),
        );
        if (opts.json) return printList(io, listed.containments);
        printTable(
          io,
          ['Containment', 'User', 'Opened by', 'Plan', 'Locked', 'Status', 'Opened', 'Restore after'],
          listed.containments.map((c) => [
            c.id,
            personOf(listed.people, c.user_id),
            byWhom(listed.people, c.opened_by),
            c.plan_id ?? '(by hand)',
            c.locked ? 'yes' : 'no',
            c.close_reason ? `closed: ${c.close_reason}` : c.status,
            c.open_time,
            c.restore_after_time ?? '',
          ]),
          opts.open ? 'no open containment' : 'no containment',
        );
      }),
    );
  containments
    .command('show <containment>')
    .description('One record: its snapshot, cause, who opened it, and how it closed')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((id: string, opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const shown = await runAdmin(io, 'containments show', opts.account, async (api, accountId) => ({
          record: await api.call<ContainmentJson & { people: People }>(
            'GET',
            `${accountPath(accountId)}/containments/${encodeURIComponent(id)}`,
          ),
          groups: opts.json ? new Map<string, string>() : await groupNames(api, accountId),
        }));
        const { people, ...record } = shown.record;
        if (opts.json) return printJson(io, record);
        printContainment(io, record, people, shown.groups);
      }),
    );
  containments
    .command('restore <containment>')
    .description('Restore the user through the record under the restore policy; you count as the first approval')
    .option('--reason <reason>', `why: ${RESTORE_REASONS.join(' or ')} (the signal was wrong)`, 'restored')
    .option('--false-positive', 'the same as --reason false_positive: mark the signal, free its breaker slot')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((id: string, opts: { reason: string; falsePositive?: boolean; account?: string; json?: boolean }) =>
      run(async () => {
        const reason = opts.falsePositive ? 'false_positive' : opts.reason;
        if (!(RESTORE_REASONS as readonly string[]).includes(reason))
          throw usageError(`--reason must be ${RESTORE_REASONS.join(' or ')}, got "${reason}"`);
        const { result, groups } = await asPerson(io, 'containments restore', opts.account, async (api, accountId) => ({
          result: await api.call<{
            status: string;
            plan: PlanJson;
            drift: Drift | null;
            verification: Record<string, boolean> | null;
            targets?: Array<Record<string, unknown>>;
          }>('POST', `${accountPath(accountId)}/containments/${encodeURIComponent(id)}:restore`, { reason }),
          groups: opts.json ? new Map<string, string>() : await groupNames(api, accountId),
        }));
        if (opts.json) return printJson(io, result);
        if (result.status !== 'restored')
          return void io.stdout.write(
            `restore plan ${result.plan.id} waits for approval ` +
              `(${approvalsOf(1, result.plan.approvals_required)}: cordon approvals approve ${result.plan.id})\n`,
          );
        io.stdout.write(`restored (${reason.replace('_', ' ')})\n`);
        io.stdout.write(`drift: ${describeDrift(result.drift, groups)}\n`);
        io.stdout.write(`verified: ${describeVerification(result.verification)}\n`);
        printRestoreTargets(io, result.targets ?? []);
      }),
    );
}
