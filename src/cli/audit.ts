/**
 * `cordon audit tail` and `proof` read the log through the API (cli/remote.ts);
 * `export` writes it as JSON Lines; `verify` checks such an export with nothing else: every leaf, the
 * root, the checkpoint's signature and, given an older saved checkpoint, that the log still extends it.
 * `actions` prints the registry of audit actions (audit/actions.ts), the table the README carries.
 */
import { accessSync, constants, createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { once } from 'node:events';
import type { Command } from 'commander';
import { renderAuditActions } from '../audit/actions.js';
import { openCheckpoint } from '../audit/checkpoint.js';
import { leafHashOf } from '../audit/leaf.js';
import { verifyInclusion } from '../audit/merkle.js';
import { parseVerifierKey } from '../audit/note.js';
import type { EntryProof } from '../audit/proofs.js';
import { verifyExport } from '../audit/verify.js';
import { AppError } from '../errors.js';
import { actorOf, EXIT, printJson, Reported, usageError, type CliIo, type People } from './io.js';
import { createProgress } from './progress.js';
import { accountPath, runAdmin, type Api } from './remote.js';

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw usageError(`cannot read ${what} ${file}: ${(error as Error).message}`);
  }
}

type NumberedEntry = EntryProof['entry'];

/** What tail and proof read, through the API. */
interface AuditSource {
  entries(fromIndex: number, limit: number): Promise<{ entries: NumberedEntry[]; logSize: number; people: People }>;
  proof(index: number): Promise<EntryProof>;
}

function auditSource(api: Api, accountId: string): AuditSource {
  const base = `${accountPath(accountId)}/audit`;
  return {
    async entries(fromIndex, limit) {
      const page = await api.call<{ entries: NumberedEntry[]; log_size: number; people?: People }>(
        'GET',
        `${base}/entries?start_index=${fromIndex}&page_size=${Math.min(limit, 1000)}`,
      );
      return { entries: page.entries, logSize: page.log_size, people: page.people ?? {} };
    },
    async proof(index) {
      const checkpoint = await api.call<{ size: number; signed_note: string; origin: string }>(
        'GET',
        `${base}/checkpoint`,
      );
      if (index >= checkpoint.size) {
        // Past the signed tree: an entry that does not exist is "not found" (exit 3), not a bad request.
        const { log_size: size } = await api.call<{ log_size: number }>('GET', `${base}/entries?page_size=1`);
        if (index >= size)
          throw new AppError('NOT_FOUND', {
            description: `no audit entry ${index}: the log has ${size} entr${size === 1 ? 'y' : 'ies'}`,
          });
      }
      const proof = await api.call<{
        entry: NumberedEntry;
        tree_size: number;
        leaf_hash: string;
        inclusion_path: string[];
      }>('GET', `${base}/entries/${index}/proof${index < checkpoint.size ? `?tree_size=${checkpoint.size}` : ''}`);
      const { keys } = await api.call<{ keys: Array<{ verifier_key: string }> }>(
        'GET',
        `/v1/audit/keys?log=${encodeURIComponent(accountId)}`,
      );
      return {
        ...proof,
        signed_note: checkpoint.signed_note,
        origin: checkpoint.origin,
        verifier_key: keys[0]!.verifier_key,
      };
    },
  };
}

/**
 * Checks an entry's inclusion proof here, with nothing but the proof: the checkpoint's signature (under
 * `trustedKey`, or the key the proof names), the entry's leaf hash, and the path to the signed root.
 */
export function checkEntryProof(proof: EntryProof, trustedKey?: string): { ok: boolean; summary: string } {
  let checkpoint;
  try {
    checkpoint = openCheckpoint(proof.signed_note, [parseVerifierKey(trustedKey ?? proof.verifier_key)], {
      origin: proof.origin,
    }).checkpoint;
  } catch (error) {
    return { ok: false, summary: `the checkpoint does not verify: ${(error as Error).message}` };
  }
  const leaf = leafHashOf(proof.entry);
  const path = proof.inclusion_path.map((h) => Buffer.from(h, 'base64'));
  const ok =
    leaf.equals(Buffer.from(proof.leaf_hash, 'base64')) &&
    checkpoint.size === proof.tree_size &&
    verifyInclusion(leaf, proof.entry.idx, checkpoint.size, path, checkpoint.rootHash);
  return {
    ok,
    // Roots are hex in everything the CLI prints for a person, as `audit verify` prints them.
    summary: `included in the signed tree of size ${checkpoint.size} (root ${checkpoint.rootHash.toString('hex')})`,
  };
}

/** One entry as a line for a person: index, time, actor, action, target, outcome; people by name. */
const describeEntry = (e: NumberedEntry, people: People = {}) =>
  `${e.idx}\t${e.recorded_at}\t${actorOf(people, e.actor_type, e.actor_id)}\t${e.action}\t` +
  `${actorOf(people, e.target_type, e.target_id)}\t${e.outcome}\n`;

export function auditCommand(program: Command, io: CliIo, run: (fn: () => Promise<void>) => Promise<void>): void {
  const audit = program
    .command('audit')
    .description('The audit log: tail it, prove an entry, export it, verify an export, list its actions');
  const source = (command: string, account: string | undefined, fn: (source: AuditSource) => Promise<void>) =>
    runAdmin(io, command, account, (api, accountId) => fn(auditSource(api, accountId)));

  audit
    .command('tail')
    .description(
      'Print the latest entries (index, time, actor, action, target, outcome); --follow keeps printing new ones',
    )
    .option('-n, --lines <n>', 'how many', '20')
    .option('--follow', 'keep printing entries as they are numbered (Ctrl-C stops)')
    .option('--account <id>', 'account id (default: the signed-in account, or the only one)')
    .option('--json', 'print JSON Lines')
    .action((opts: { lines: string; follow?: boolean; account?: string; json?: boolean }) =>
      run(() =>
        source('audit tail', opts.account, async (src) => {
          if (!/^\d{1,6}$/.test(opts.lines)) throw usageError(`--lines: expected a number, got "${opts.lines}"`);
          let next = Math.max(0, (await src.entries(0, 1)).logSize - Number(opts.lines));
          for (;;) {
            const { entries, people } = await src.entries(next, 1000);
            for (const entry of entries)
              io.stdout.write(opts.json ? JSON.stringify(entry) + '\n' : describeEntry(entry, people));
            next = entries.at(-1) ? entries.at(-1)!.idx + 1 : next;
            if (!opts.follow) return void (entries.length === 0 && !opts.json && io.stdout.write('no audit entries\n'));
            if (entries.length < 1000) await new Promise((resolve) => setTimeout(resolve, 1000));
          }
        }),
      ),
    );

  audit
    .command('proof <index>')
    .description(
      "Fetch an entry's inclusion proof against the latest signed checkpoint and check it here: signature, leaf, path",
    )
    .option('--key <verifier-key>', 'the checkpoint key you trust (default: the one the server serves)')
    .option('--account <id>', 'account id (default: the signed-in account, or the only one)')
    .option('--json', 'print the entry and its proof as JSON')
    .action((index: string, opts: { key?: string; account?: string; json?: boolean }) =>
      run(() =>
        source('audit proof', opts.account, async (src) => {
          if (!/^\d{1,15}$/.test(index)) throw usageError(`index: expected a number, got "${index}"`);
          const proof = await src.proof(Number(index));
          const { ok, summary } = checkEntryProof(proof, opts.key);
          if (opts.json) printJson(io, { ...proof, verified: ok });
          else {
            const { people } = await src.entries(Number(index), 1);
            io.stdout.write(describeEntry(proof.entry, people) + (ok ? `${summary}\n` : ''));
          }
          if (!ok) {
            io.stderr.write(
              `cordon: entry ${index} is NOT proven by the signed checkpoint of size ${proof.tree_size}\n`,
            );
            throw new Reported(EXIT.FAILURE);
          }
        }),
      ),
    );

  audit
    .command('export')
    .description("Write an account's audit log, up to its latest signed checkpoint, as JSON Lines")
    .option('--account <id>', 'account id (default: the signed-in account, or the only one)')
    .option('--out <file>', 'write here instead of standard output')
    .action((opts: { account?: string; out?: string }) =>
      run(async () => {
        const out = opts.out ? createWriteStream(opts.out, { mode: 0o600 }) : io.stdout;
        const write = async (lines: AsyncIterable<string>) => {
          for await (const chunk of lines) if (!out.write(chunk)) await once(out, 'drain');
        };
        await runAdmin(io, 'audit export', opts.account, (api, accountId) =>
          write(api.stream(`${accountPath(accountId)}/audit/export`)),
        );
        if (opts.out)
          await new Promise<void>((resolve, reject) =>
            (out as NodeJS.WritableStream).end((error?: Error | null) => (error ? reject(error) : resolve())),
          );
      }),
    );

  audit
    .command('verify [export]')
    .description(
      'Check an export (default: the live log, exported now): every leaf, the root, the signature and, with ' +
        '--previous, consistency. Exit 0 only when all hold',
    )
    .option(
      '--key <verifier-key>',
      'the C2SP verifier key you trust (GET /v1/audit/keys); without it the export’s own key is used, which proves ' +
        'nothing about who signed',
    )
    .option(
      '--previous <checkpoint-file>',
      'an older signed checkpoint of this log you saved: the export must extend it',
    )
    .option('--account <id>', 'with no export file: account id (default: the signed-in account, or the only one)')
    .option('--json', 'print the report as JSON')
    .action((file: string | undefined, opts: { key?: string; previous?: string; account?: string; json?: boolean }) =>
      run(async () => {
        const check = (input: AsyncIterable<Buffer | string>) => verifyAndReport(io, input, opts);
        if (file === undefined) {
          await runAdmin(io, 'audit verify', opts.account, (api, accountId) =>
            check(api.stream(`${accountPath(accountId)}/audit/export`)),
          );
          return;
        }
        try {
          accessSync(file, constants.R_OK);
        } catch (error) {
          throw usageError(`cannot read the export ${file}: ${(error as Error).message}`);
        }
        await check(createReadStream(file, { highWaterMark: 1 << 20 }));
      }),
    );

  audit
    .command('actions')
    .description('Print every audit action (its target and meaning) as a Markdown table')
    .action(() => {
      io.stdout.write(renderAuditActions() + '\n');
    });
}

async function verifyAndReport(
  io: CliIo,
  input: AsyncIterable<Buffer | string>,
  opts: { key?: string; previous?: string; json?: boolean },
): Promise<void> {
  let progress: ReturnType<typeof createProgress> | undefined;
  const report = await verifyExport(input, {
    ...(opts.key ? { trustedKey: opts.key } : {}),
    ...(opts.previous ? { previousCheckpoint: readText(opts.previous, 'the checkpoint') } : {}),
    onProgress: (done, total) => (progress ??= createProgress(io.stderr, 'verifying', total)).update(done),
  });
  if (opts.json) printJson(io, report);
  if (!report.ok) {
    if (!opts.json)
      io.stderr.write(
        `cordon: verification FAILED` +
          `${report.firstBadIndex === undefined ? '' : ` at entry ${report.firstBadIndex}`}: ${report.problem}\n`,
      );
    throw new Reported(EXIT.FAILURE);
  }
  if (!opts.json) {
    progress?.finish(`verified ${report.size} entries`);
    io.stdout.write(
      `OK: ${report.size} entries of log ${report.log} reproduce the signed root ${report.root}` +
        `${report.previous ? `, consistent with the checkpoint of size ${report.previous.size}` : ''}` +
        `${report.trusted ? '' : ' (signed by the key inside the export: pass --key to check who signed it)'}\n`,
    );
  }
}
