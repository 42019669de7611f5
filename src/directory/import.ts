/**
 * Bulk import of users from JSONL or CSV: all or nothing.
 *
 * Every row is parsed and checked first (fields, duplicates within the file, emails already taken), and
 * every problem is reported with its line number. Only a clean file is written, in one transaction of
 * multi-row inserts, so an import either lands whole, with its audit entries, or leaves no trace.
 */
import type { CallContext } from '../audit/entry.js';
import { AppError } from '../errors.js';
import type { UserRole } from '../storage/schema.js';
import { analyzeDirectory, findTakenEmails } from '../store/users.js';
import type { DirectoryDeps } from './deps.js';
import { assertAccountExists, insertUsersWithGroups, rethrowEmailTaken } from './users.js';
import { checkNewUser, type NewUserInput } from './validate.js';

export type ImportFormat = 'jsonl' | 'csv';

export interface ImportRow {
  line: number;
  user: NewUserInput;
}

export interface RowProblem {
  line: number;
  problem: string;
}

/**
 * A parsed file: the good rows, every problem, and the emails of rows that have other problems, which are
 * still checked for duplicates and for being taken, so that a row's every problem is reported at once.
 */
export interface ParsedImport {
  rows: ImportRow[];
  problems: RowProblem[];
  badRowEmails?: Array<{ line: number; email: string }>;
}

export class ImportRejected extends AppError {
  constructor(readonly problems: RowProblem[]) {
    super('INVALID_ARGUMENT', {
      description:
        `${problems.length} problem(s) in ${new Set(problems.map((p) => p.line)).size} row(s); nothing was ` +
        `imported`,
    });
  }
}

const COLUMNS = ['email', 'display_name', 'role', 'groups', 'externally_managed'] as const;

export function parseImport(text: string, format: ImportFormat): ParsedImport {
  return format === 'csv' ? parseCsvRows(text) : parseJsonlRows(text);
}

function parseJsonlRows(text: string): ParsedImport {
  const rows: ImportRow[] = [];
  const problems: RowProblem[] = [];
  const badRowEmails: ParsedImport['badRowEmails'] = [];
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      problems.push({ line, problem: 'not valid JSON' });
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.push({ line, problem: 'expected a JSON object' });
      return;
    }
    collect({ rows, problems, badRowEmails }, line, value as Record<string, unknown>);
  });
  return { rows, problems, badRowEmails };
}

function parseCsvRows(text: string): ParsedImport {
  const rows: ImportRow[] = [];
  const problems: RowProblem[] = [];
  const badRowEmails: ParsedImport['badRowEmails'] = [];
  const records = parseCsv(text);
  const header = records.shift();
  if (!header) return { rows, problems: [{ line: 1, problem: 'empty file: expected a header row' }] };
  const names = header.fields.map((h) => h.trim().toLowerCase());
  const unknown = names.filter((n) => !(COLUMNS as readonly string[]).includes(n));
  if (unknown.length > 0 || !names.includes('email') || !names.includes('display_name')) {
    return {
      rows,
      problems: [
        {
          line: header.line,
          problem: `header must name email and display_name, and only these columns: ${COLUMNS.join(', ')}`,
        },
      ],
    };
  }
  for (const record of records) {
    if (record.fields.length === 1 && record.fields[0]!.trim() === '') continue;
    if (record.fields.length !== names.length) {
      problems.push({ line: record.line, problem: `expected ${names.length} fields, found ${record.fields.length}` });
      continue;
    }
    const value: Record<string, unknown> = {};
    names.forEach((name, i) => {
      const field = record.fields[i]!.trim();
      if (field === '') return;
      if (name === 'groups')
        value.groups = field
          .split(/[;|]/)
          .map((g) => g.trim())
          .filter(Boolean);
      else if (name === 'externally_managed')
        value.externally_managed = /^(true|1|yes)$/i.test(field) ? true : /^(false|0|no)$/i.test(field) ? false : field;
      else value[name] = name === 'role' ? field.toUpperCase() : field;
    });
    collect({ rows, problems, badRowEmails }, record.line, value);
  }
  return { rows, problems, badRowEmails };
}

function collect(
  { rows, problems, badRowEmails }: Required<ParsedImport>,
  line: number,
  value: Record<string, unknown>,
): void {
  const unknown = Object.keys(value).filter((k) => !(COLUMNS as readonly string[]).includes(k));
  const found = [...checkNewUser(value), ...unknown.map((k) => `${k}: unknown field`)];
  if (found.length > 0) {
    for (const problem of found) problems.push({ line, problem });
    if (!found.some((p) => p.startsWith('email:'))) badRowEmails.push({ line, email: value.email as string });
    return;
  }
  rows.push({
    line,
    user: {
      email: value.email as string,
      display_name: value.display_name as string,
      role: (value.role as UserRole | undefined) || 'MEMBER',
      externally_managed: (value.externally_managed as boolean | undefined) ?? false,
      groups: value.groups as string[] | undefined,
    },
  });
}

/** RFC 4180 CSV: quoted fields, doubled quotes, CRLF or LF; each record keeps the line it starts on. */
export function parseCsv(text: string): Array<{ line: number; fields: string[] }> {
  const records: Array<{ line: number; fields: string[] }> = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let any = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
      any = true;
    } else if (c === ',') {
      fields.push(field);
      field = '';
      any = true;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      fields.push(field);
      if (any || field !== '') records.push({ line: start, fields });
      fields = [];
      field = '';
      any = false;
      line++;
      start = line;
    } else {
      field += c;
      any = true;
    }
  }
  if (any || field !== '') {
    fields.push(field);
    records.push({ line: start, fields });
  }
  return records;
}

export interface ImportOptions {
  batchSize?: number;
  /** Called after each batch with the number of users written so far. */
  onProgress?: (written: number, total: number) => void;
}

/**
 * Imports checked rows into the account. Throws ImportRejected (listing every problem, nothing written)
 * when any row is bad or its email is taken.
 */
export async function importUsers(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  parsed: ParsedImport,
  options: ImportOptions = {},
): Promise<{ imported: number }> {
  const batchSize = options.batchSize ?? 1000;
  const problems = [...parsed.problems];
  const firstLine = new Map<string, number>();
  const emails = [
    ...parsed.rows.map(({ line, user }) => ({ line, email: user.email })),
    ...(parsed.badRowEmails ?? []),
  ].sort((a, b) => a.line - b.line);
  for (const { line, email } of emails) {
    const key = email.trim().toLowerCase();
    const seen = firstLine.get(key);
    if (seen !== undefined) problems.push({ line, problem: `email: duplicate of line ${seen}` });
    else firstLine.set(key, line);
  }
  return deps.audit
    .transact(async (trx) => {
      await assertAccountExists({ db: trx }, accountId);
      const distinct = [...firstLine.keys()];
      for (let i = 0; i < distinct.length; i += batchSize) {
        for (const taken of await findTakenEmails(trx, accountId, distinct.slice(i, i + batchSize))) {
          problems.push({ line: firstLine.get(taken)!, problem: 'email: a user with this email already exists' });
        }
      }
      if (problems.length > 0) throw new ImportRejected(sortProblems(problems));
      const rows = parsed.rows;
      for (let i = 0; i < rows.length; i += batchSize) {
        await insertUsersWithGroups(
          deps,
          trx,
          ctx,
          accountId,
          rows.slice(i, i + batchSize).map((r) => r.user),
        );
        options.onProgress?.(Math.min(i + batchSize, rows.length), rows.length);
      }
      return { imported: rows.length };
    })
    .then(async (result) => {
      // Best effort: the import stands either way; this only spares the next reads a stale plan.
      await analyzeDirectory(deps.db).catch(() => undefined);
      return result;
    })
    .catch(rethrowEmailTaken);
}

function sortProblems(problems: RowProblem[]): RowProblem[] {
  return problems.sort((a, b) => a.line - b.line);
}
