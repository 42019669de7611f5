/**
 * `cordon containments list|show|restore|secret`: containment records, people by name (the API names whom
 * a record mentions, in `people`), a leaked secret's app or source by its name (nhi.ts). Restoring is a
 * person's act: it goes through a server's API under the session of `cordon login` (approvals.ts,
 * asPerson); reading works either way (cli/remote.ts), and so does reading a record's new secret once.
 */
import type { Command } from 'commander';
import type { containmentView } from '../http/views/containments.js';
import type { planView } from '../http/views/plans.js';
import { containedOf, leakOf } from '../response/explain-nhi.js';
import { approvalsOf, asPerson } from './approvals.js';
import { nhiSubjectText, printNhi, revokedCounts, type NhiJson } from './nhi.js';
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
/** What a new secret is, by the leaked one's kind (secret-format.ts). */
const SECRET_KINDS: Record<string, string> = { cs: 'client secret', st: 'URL token', sh: 'HMAC secret' };

/**
 * Who did something to a record, from its `opened_by` / `closed_by`: {actor, authz}, or (a record of a
 * non-human identity, response/nhi.ts) the actor alone.
 */
function byWhom(people: People, by: Record<string, unknown> | null): string {
  const actor = (by?.['actor'] ?? by) as { type?: string; id?: string } | null | undefined;
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

/**
 * The names of the apps and sources that records of non-human identities name, by id: a call for each
 * kind the records name (none when they name only people).
 */
async function ownerNames(api: Api, accountId: string, records: ContainmentJson[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  const types = new Set(records.map((c) => c.subject_nhi?.type));
  if (types.has('app'))
    for (const a of (
      await api.call<{ apps: Array<{ id: string; name: string }> }>('GET', `${accountPath(accountId)}/apps`)
    ).apps)
      names.set(a.id, a.name);
  if (types.has('source'))
    for (const s of (
      await api.call<{ sources: Array<{ id: string; name: string }> }>('GET', `${accountPath(accountId)}/sources`)
    ).sources)
      names.set(s.id, s.name);
  return names;
}

/** A record of a non-human identity as explain shows one (nhi.ts), from its details. */
const nhiOf = (c: ContainmentJson, names: Map<string, string>): NhiJson | null =>
  c.subject_nhi && {
    subject: c.subject_nhi as NhiJson['subject'],
    owner: names.has(c.subject_nhi.id)
      ? { name: names.get(c.subject_nhi.id)!, client_id: null, disabled: false }
      : null,
    action: c.action,
    leak: leakOf(c.details),
    contained: containedOf(c.details, c.new_secret_waiting),
  };

/** Whom a record is about: a person by name, or "app NAME" (a leaked secret's owner). */
const subjectOf = (c: ContainmentJson, people: People, names: Map<string, string>) =>
  c.subject_nhi
    ? nhiSubjectText(c.subject_nhi as NhiJson['subject'], names.get(c.subject_nhi.id), people)
    : personOf(people, c.user_id);

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

function printContainment(io: CliIo, c: ContainmentJson, people: People, names: Map<string, string>): void {
  const line = (label: string, text: string) => io.stdout.write(`${label.padEnd(15)}${text}\n`);
  line(
    'containment',
    `${c.id} ${c.status}${c.close_reason ? ` (${c.close_reason})` : ''}${c.locked ? ', locked' : ''}`,
  );
  const nhi = nhiOf(c, names);
  if (nhi) line('subject', subjectOf(c, people, names));
  else line('user', personOf(people, c.user_id));
  line('opened', `${c.open_time} by ${byWhom(people, c.opened_by)}`);
  line('plan', c.plan_id ?? '(by hand)');
  const s = c.snapshot;
  if (s)
    line(
      'before',
      `${s.state}, role ${s.role}, groups ${s.group_ids.map((g) => names.get(g) ?? g).join(', ') || 'none'}; ` +
        `${s.sessions_revoked.length} session(s) revoked`,
    );
  if (nhi) printNhi(line, nhi, people, c.id);
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
  const containments = program
    .command('containments')
    .description("Containment records: list, show, restore; a leaked secret's new secret, once");
  containments
    .command('list')
    .description('Containment records, newest first')
    .option('--open', 'only open ones')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON: {"items": [records]}')
    .action((opts: { open?: boolean; account?: string; json?: boolean }) =>
      run(async () => {
        const { listed, names } = await runAdmin(io, 'containments list', opts.account, async (api, accountId) => {
          const listed = await api.call<{ containments: ContainmentJson[]; people: People }>(
            'GET',
            `${accountPath(accountId)}/containments?max_page_size=1000${opts.open ? '&status=open' : ''}`,
          );
          const names = opts.json ? new Map<string, string>() : await ownerNames(api, accountId, listed.containments);
          return { listed, names };
        });
        if (opts.json) return printList(io, listed.containments);
        printTable(
          io,
          [
            'Containment',
            'Subject',
            'Action',
            'Opened by',
            'Plan',
            'Locked',
            'Status',
            'Opened',
            'Restore after',
            'Leak found at',
            'Revoked',
          ],
          listed.containments.map((c) => [
            c.id,
            subjectOf(c, listed.people, names),
            c.action ?? 'suspend',
            byWhom(listed.people, c.opened_by),
            c.plan_id ?? '(by hand)',
            c.locked ? 'yes' : 'no',
            c.close_reason ? `closed: ${c.close_reason}` : c.status,
            c.open_time,
            c.restore_after_time ?? '',
            c.subject_nhi ? (leakOf(c.details).url ?? '') : '',
            c.subject_nhi ? revokedCounts(containedOf(c.details, false).revoked) : '',
          ]),
          opts.open ? 'no open containment' : 'no containment',
        );
      }),
    );
  containments
    .command('show <containment>')
    .description(
      'One record: its snapshot, cause, who opened it, and how it closed; of a leaked secret: the leak, what was ' +
        'revoked, whether the secret was replaced, what the app changed in the hour before',
    )
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((id: string, opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const shown = await runAdmin(io, 'containments show', opts.account, async (api, accountId) => {
          const record = await api.call<ContainmentJson & { people: People }>(
            'GET',
            `${accountPath(accountId)}/containments/${encodeURIComponent(id)}`,
          );
          if (opts.json) return { record, names: new Map<string, string>() };
          const groups = record.subject_nhi ? [] : [...(await groupNames(api, accountId))];
          return { record, names: new Map([...groups, ...(await ownerNames(api, accountId, [record]))]) };
        });
        const { people, ...record } = shown.record;
        if (opts.json) return printJson(io, record);
        printContainment(io, record, people, shown.names);
      }),
    );
  containments
    .command('secret <containment>')
    .description(
      'Print the new secret a containment of a leaked secret made (its rotation or restore): shown ONCE, then ' +
        'gone from Cordon (asking again exits 3); OWNERs and ADMINs only',
    )
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print the JSON answer: {containment_id, subject, secret}')
    .action((id: string, opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const { read, people, names } = await runAdmin(
          io,
          'containments secret',
          opts.account,
          async (api, accountId) => {
            const record = `${accountPath(accountId)}/containments/${encodeURIComponent(id)}`;
            // The names first: whatever fails must fail before the secret is taken, since it is shown once.
            const shown = opts.json ? undefined : await api.call<ContainmentJson & { people: People }>('GET', record);
            const names = shown ? await ownerNames(api, accountId, [shown]) : new Map<string, string>();
            const read = await api.call<{ containment_id: string; subject: NhiJson['subject']; secret: string }>(
              'POST',
              `${record}:read-secret`,
            );
            return { read, people: shown?.people ?? {}, names };
          },
        );
        if (opts.json) return printJson(io, read);
        const what = SECRET_KINDS[read.subject.kind] ?? 'secret';
        io.stdout.write(
          `New ${what} of ${nhiSubjectText(read.subject, names.get(read.subject.id), people)}: ${read.secret}\n` +
            'Store it now: it is shown once, and Cordon keeps no copy.\n',
        );
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
