/**
 * Playbooks and the protected-principal policy at the command line: `cordon playbooks
 * apply|list|history|lint|test` and `cordon policy apply|show`. `lint` needs nothing but the file; the
 * others have one body each, the API's (cli/remote.ts). `test` is the dry run: the plan a signal would get,
 * with every verdict, and nothing written.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { dryRunView } from '../http/views/plans.js';
import { INTAKE_FORMATS, type IntakeFormat } from '../response/intake/signal.js';
import { lintPlaybook, parsePlaybookText, PlaybookTextError } from '../response/playbook.js';
import type { AppliedPlaybook } from '../response/playbooks.js';
import type { ProtectionPolicy } from '../response/protection-policy.js';
import {
  asText,
  EXIT,
  personOf,
  printJson,
  printList,
  printTable,
  Reported,
  usageError,
  type CliIo,
  type People,
} from './io.js';
import { ACCOUNT_HELP, accountPath, type Run, runAdmin } from './remote.js';

interface VersionJson {
  name: string;
  version: number;
  content_hash: string;
  document: Record<string, unknown>;
  create_time: string;
  created_by: string;
}

function readDocuments(file: string): unknown[] {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    throw usageError(`cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    return parsePlaybookText(text);
  } catch (error) {
    if (error instanceof PlaybookTextError) throw usageError(`${file}: ${error.message}`);
    throw error;
  }
}

function printVersions(io: CliIo, versions: VersionJson[], people: People): void {
  printTable(
    io,
    ['Name', 'Version', 'Action', 'Mode', 'Priority', 'Hash', 'Created', 'By'],
    versions.map((v) => [
      v.name,
      v.version,
      asText(v.document.action),
      asText(v.document.mode ?? (v.document.action === 'notify' ? '' : 'approval')),
      asText(v.document.priority ?? 100),
      v.content_hash.slice(0, 12),
      v.create_time,
      people[v.created_by.replace(/^user:/, '')] ? personOf(people, v.created_by.replace(/^user:/, '')) : v.created_by,
    ]),
    'no playbooks yet',
  );
}

/** The policy for a person: whom the engine never acts on, users by name. */
function printPolicy(io: CliIo, policy: ProtectionPolicy, people: People): void {
  const d = policy.document;
  if (policy.version === 0) return void io.stdout.write('no policy applied yet: the engine may act on anyone\n');
  const list = (values: string[] | undefined) => (values?.length ? values.join(', ') : 'none');
  io.stdout.write(
    `policy v${policy.version}: the engine never acts on\n` +
      `  roles   ${list(d.roles)}\n` +
      `  groups  ${list(d.groups)}\n` +
      `  users   ${list(d.user_ids?.map((id) => personOf(people, id)))}\n` +
      `  emails  ${list(d.emails)}\n`,
  );
}

export function playbooksCommand(program: Command, io: CliIo, run: Run): void {
  const playbooks = program
    .command('playbooks')
    .description('Playbooks as code: apply, list, history, lint, and test against a signal (dry run)');

  playbooks
    .command('apply')
    .description(
      'Apply the playbooks in a YAML or JSON file (one document or a list): each gets a new version when its content ' +
        'changed',
    )
    .requiredOption('-f, --file <file>', 'the file (- for standard input)')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((opts: { file: string; account?: string; json?: boolean }) =>
      run(async () => {
        const documents = readDocuments(opts.file);
        const applied = await runAdmin(
          io,
          'playbooks apply',
          opts.account,
          async (api, accountId) =>
            (
              await api.call<{ applied: AppliedPlaybook[] }>('POST', `${accountPath(accountId)}/playbooks:apply`, {
                playbooks: documents,
              })
            ).applied,
        );
        if (opts.json) return printJson(io, { applied });
        printTable(
          io,
          ['Name', 'Version', 'Hash', 'Changed'],
          applied.map((a) => [a.name, a.version, a.content_hash.slice(0, 12), a.changed ? 'new version' : 'unchanged']),
        );
      }),
    );

  playbooks
    .command('list')
    .description('The current version of every playbook')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const { playbooks: versions, people } = await runAdmin(io, 'playbooks list', opts.account, (api, accountId) =>
          api.call<{ playbooks: VersionJson[]; people: People }>('GET', `${accountPath(accountId)}/playbooks`),
        );
        if (opts.json) return printList(io, versions);
        printVersions(io, versions, people);
      }),
    );

  playbooks
    .command('history <name>')
    .description("A playbook's versions, newest first")
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((name: string, opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const { versions, people } = await runAdmin(io, 'playbooks history', opts.account, (api, accountId) =>
          api.call<{ versions: VersionJson[]; people: People }>(
            'GET',
            `${accountPath(accountId)}/playbooks/${encodeURIComponent(name)}`,
          ),
        );
        if (opts.json) return printList(io, versions);
        printVersions(io, versions, people);
      }),
    );

  playbooks
    .command('lint')
    .description(
      'Check playbook files against the published schema and the rules it cannot say; exit 2 when anything is wrong',
    )
    .requiredOption('-f, --file <file>', 'the file (- for standard input)')
    .option('--json', 'print JSON')
    .action((opts: { file: string; json?: boolean }) =>
      run(async () => {
        const documents = readDocuments(opts.file);
        const results = documents.map((document, i) => ({
          playbook: (document as { name?: unknown } | null)?.name ?? `#${i + 1}`,
          problems: lintPlaybook(document),
        }));
        const bad = results.filter((r) => r.problems.length > 0);
        if (opts.json) printJson(io, { ok: bad.length === 0, playbooks: results });
        else if (bad.length === 0) io.stdout.write(`${results.length} playbook${results.length === 1 ? '' : 's'} OK\n`);
        else
          for (const r of bad)
            for (const p of r.problems) io.stderr.write(`${asText(r.playbook)}: ${p.path || '/'} ${p.message}\n`);
        if (bad.length > 0) throw new Reported(EXIT.USAGE);
      }),
    );

  playbooks
    .command('test')
    .description(
      'Dry run: the plan a signal would get under the current playbooks and policy, with every verdict; writes nothing',
    )
    .requiredOption('--signal <file>', 'the signal payload (JSON; - for standard input)')
    .option('--format <format>', INTAKE_FORMATS.join(' | '), 'canonical')
    .option('--source <id>', 'the source the signal would come from (playbooks may match on it)')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((opts: { signal: string; format: string; source?: string; account?: string; json?: boolean }) =>
      run(async () => {
        if (!INTAKE_FORMATS.includes(opts.format as IntakeFormat))
          throw usageError(`--format must be one of ${INTAKE_FORMATS.join(', ')}`);
        const format = opts.format as IntakeFormat;
        let payload: unknown;
        try {
          payload = JSON.parse(readFileSync(opts.signal === '-' ? 0 : opts.signal, 'utf8'));
        } catch (error) {
          throw usageError(`${opts.signal}: ${(error as Error).message}`);
        }
        const result = await runAdmin(io, 'playbooks test', opts.account, (api, accountId) =>
          api.call<ReturnType<typeof dryRunView>>('POST', `${accountPath(accountId)}/signals:plan`, {
            format,
            signal: payload,
            ...(opts.source ? { source_id: opts.source } : {}),
          }),
        );
        if (opts.json) return printJson(io, result);
        const { plan } = result;
        const duplicate = result.duplicate
          ? ' (a signal with this external id is already stored: submitting it would change nothing)'
          : '';
        io.stdout.write(`status: ${plan.status}${duplicate}\n`);
        io.stdout.write(
          `subject: ${plan.subject_user_id ?? '(unresolved)'}   ` +
            `playbook: ${plan.playbook ? `${plan.playbook.name} v${plan.playbook.version}` : '(none)'}   ` +
            `policy: v${plan.policy_version}\n`,
        );
        printTable(
          io,
          ['Step', 'Verdict', 'Reason'],
          plan.verdicts.map((v) => [v.step, v.outcome, v.reason]),
        );
      }),
    );

  const policy = program
    .command('policy')
    .description('The protected-principal policy: who the response engine never acts on');
  policy
    .command('apply')
    .description(
      'Apply a policy file (YAML or JSON: roles, groups, user_ids, emails); a new version when its content changed ' +
        '(OWNERs only through the API)',
    )
    .requiredOption('-f, --file <file>', 'the file (- for standard input)')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON')
    .action((opts: { file: string; account?: string; json?: boolean }) =>
      run(async () => {
        const documents = readDocuments(opts.file);
        if (documents.length !== 1) throw usageError(`${opts.file}: give one policy document`);
        const applied = await runAdmin(io, 'policy apply', opts.account, (api, accountId) =>
          api.call<ProtectionPolicy & { changed: boolean }>(
            'PUT',
            `${accountPath(accountId)}/protection-policy`,
            documents[0],
          ),
        );
        if (opts.json) return printJson(io, applied);
        io.stdout.write(`policy v${applied.version} (${applied.changed ? 'new version' : 'unchanged'})\n`);
      }),
    );
  policy
    .command('show')
    .description('The current policy')
    .option('--account <id>', ACCOUNT_HELP)
    .option('--json', 'print JSON: {"version", "document"}')
    .action((opts: { account?: string; json?: boolean }) =>
      run(async () => {
        const { people, ...current } = await runAdmin(io, 'policy show', opts.account, (api, accountId) =>
          api.call<ProtectionPolicy & { people: People }>('GET', `${accountPath(accountId)}/protection-policy`),
        );
        if (opts.json) return printJson(io, current);
        printPolicy(io, current, people);
      }),
    );
}
