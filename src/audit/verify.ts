/**
 * The offline verifier of an audit-log export (`cordon audit verify`). An export is JSON Lines: a
 * header with the log, the checkpoint origin, the log's verifier key and its latest signed checkpoint,
 * then one `{"entry", "leaf_hash"}` line per entry in index order. The verifier rebuilds every leaf
 * from its entry (audit/leaf.ts), folds the leaves into the RFC 6962 root as they stream past, keeping
 * only the right edge of complete subtrees (O(log n) hashes), and compares that root with the signed
 * one. An older checkpoint the user saved is checked against the root of the same prefix, which is
 * what catches a log that was truncated and grown again.
 */
import { openCheckpoint, type ParsedCheckpoint } from './checkpoint.js';
import { leafHashOf } from './leaf.js';
import { EMPTY_ROOT, foldRange, hashChildren, type Hash } from './merkle.js';
import { parseVerifierKey, type VerifierKey } from './note.js';
import type { NumberedEntry } from '../store/audit.js';

export const EXPORT_FORMAT = 'cordon-audit-export/v1';

/** The first line of an export. */
export interface ExportHeader {
  format: typeof EXPORT_FORMAT;
  /** The log's id: the `account_id` of every entry. */
  log: string;
  /** The checkpoint origin the signed note must name. */
  origin: string;
  /** The log's C2SP verifier key text, as the exporter claims it; only trusted when the user pins it. */
  verifier_key: string;
  /** The full signed note of the latest checkpoint. */
  checkpoint: string;
}

/** Every line after the header. */
export interface ExportLine {
  entry: NumberedEntry;
  /** Lowercase hex of the leaf hash the log stored for the entry. */
  leaf_hash: string;
  /**
   * The stored interior nodes this leaf completes, level 1 up (hex). Optional: the signed root proves
   * the entries either way; the nodes let verify name a stored node that no longer matches them.
   */
  nodes?: string[];
}

export interface VerifyOptions {
  /** The verifier key text the user pins. Without it the bundle's own key is used and the report says `trusted: false`. */
  trustedKey?: string;
  /** An older signed checkpoint of the same log the user saved: the export must extend it. */
  previousCheckpoint?: string;
  /** Called every `PROGRESS_EVERY` entries and once at the end; `total` is the checkpoint's size. */
  onProgress?: (done: number, total: number) => void;
}

export type VerifyReport =
  | {
      ok: true;
      log: string;
      /** The checkpoint's size: entries 0..size−1 are proven. Lines past it are checked for shape only. */
      size: number;
      /** Hex of the checkpoint's root, which the entries reproduce. */
      root: string;
      /** Whether the checkpoint was verified with a key the user pinned rather than the bundle's own. */
      trusted: boolean;
      previous?: { size: number };
    }
  | { ok: false; problem: string; firstBadIndex?: number };

export const PROGRESS_EVERY = 4096;

const ENTRY_STRINGS = ['account_id', 'recorded_at', 'actor_type', 'actor_id', 'action', 'target_type', 'target_id', 'outcome'] as const;
const ENTRY_OBJECTS = ['cause', 'authz', 'details'] as const;
const ENTRY_FIELDS = new Set<string>(['idx', ...ENTRY_STRINGS, ...ENTRY_OBJECTS]);
const HEX_HASH = /^[0-9a-f]{64}$/;

/** Checks an export, reporting the first problem in the order header, entries, root, previous checkpoint. */
export async function verifyExport(lines: AsyncIterable<string>, options: VerifyOptions = {}): Promise<VerifyReport> {
  const iterator = lines[Symbol.asyncIterator]();
  try {
    const headerLine = await nextLine(iterator);
    if (headerLine === undefined) return fail('the export is empty: no header line');
    const header = parseHeader(headerLine);
    if (typeof header === 'string') return fail(header);

    const opened = openLatest(header, options.trustedKey);
    if ('problem' in opened) return fail(opened.problem);
    const { key, checkpoint } = opened;
    const size = checkpoint.size;
    // Opened now because its size says which prefix root to keep; its failure is reported last, in order.
    const previous = options.previousCheckpoint === undefined ? undefined : openPrevious(options.previousCheckpoint, key, header.origin);

    const tree = new CompactRange();
    let prefixRoot: Hash | undefined;
    const reached = (): VerifyReport | undefined => {
      if (previous !== undefined && 'checkpoint' in previous && tree.size === previous.checkpoint.size) prefixRoot = tree.root();
      if (tree.size === size && !tree.root().equals(checkpoint.rootHash)) {
        return fail(`root does not match the signed checkpoint (size ${size}): the entries are not the ones the log signed`);
      }
      return undefined;
    };

    let bad = reached();
    if (bad) return bad;
    for (let line = await nextLine(iterator); line !== undefined; line = await nextLine(iterator)) {
      const index = tree.size;
      const checked = checkEntryLine(line, index, header.log);
      if (typeof checked === 'string') return fail(`entry ${index}: ${checked}`, index);
      const made = tree.append(checked.leaf);
      if (checked.nodes !== undefined) {
        const level = made.findIndex((hash, i) => hash.toString('hex') !== checked.nodes![i]);
        if (level >= 0 || checked.nodes.length !== made.length) {
          const bad = level >= 0 ? level + 1 : Math.min(made.length, checked.nodes.length) + 1;
          const first = index + 1 - 2 ** bad;
          return fail(`entry ${first}: the stored tree node at level ${bad} over entries ${first}..${index} does not match the entries`, first);
        }
      }
      if ((bad = reached())) return bad;
      if (tree.size % PROGRESS_EVERY === 0) options.onProgress?.(tree.size, size);
    }
    options.onProgress?.(tree.size, size);
    if (tree.size < size) {
      return fail(`entry ${tree.size} is missing: the export ends after ${tree.size} entries but the checkpoint covers ${size}`, tree.size);
    }

    const report: VerifyReport = { ok: true, log: header.log, size, root: checkpoint.rootHash.toString('hex'), trusted: options.trustedKey !== undefined };
    if (previous === undefined) return report;
    if ('problem' in previous) return fail(previous.problem);
    const before = previous.checkpoint;
    if (before.size > size) {
      return fail(`not consistent with the previous checkpoint (size ${before.size}): the log has shrunk to ${size} entries`);
    }
    if (!prefixRoot!.equals(before.rootHash)) {
      return fail(`not consistent with the previous checkpoint (size ${before.size}): the first ${before.size} entries have another root, so the log was rewritten since`);
    }
    return { ...report, previous: { size: before.size } };
  } finally {
    // Close the source (a file, a stream) when we stop early; a no-op once it is exhausted.
    await iterator.return?.();
  }
}

/**
 * The right edge of the tree of the leaves so far: the hashes of `rangeNodes(0, size)`, largest
 * first (a "compact range"). Appending a leaf merges it with one edge subtree per trailing 1 bit of
 * the old size, the subtrees it completes, so it costs one hash on average.
 */
class CompactRange {
  private readonly edge: Hash[] = [];
  size = 0;

  /** Appends a leaf; returns the interior nodes it completes, level 1 up. */
  append(leaf: Hash): Hash[] {
    const made: Hash[] = [];
    let hash = leaf;
    for (let s = this.size; s % 2 === 1; s = (s - 1) / 2) made.push((hash = hashChildren(this.edge.pop()!, hash)));
    this.edge.push(hash);
    this.size++;
    return made;
  }

  /** MTH of the leaves so far (RFC 6962 §2.1). */
  root(): Hash {
    return foldRange(this.edge);
  }
}

function fail(problem: string, firstBadIndex?: number): VerifyReport {
  return firstBadIndex === undefined ? { ok: false, problem } : { ok: false, problem, firstBadIndex };
}

/** The next line that is not blank (a trailing newline leaves one), or undefined at the end. */
async function nextLine(iterator: AsyncIterator<string>): Promise<string | undefined> {
  for (;;) {
    const next = await iterator.next();
    if (next.done) return undefined;
    if (next.value.trim() !== '') return next.value;
  }
}

function parseHeader(line: string): ExportHeader | string {
  const value = parseJson(line);
  if (!isRecord(value)) return 'the header is not a JSON object';
  if (value.format !== EXPORT_FORMAT) return `the header's format is ${JSON.stringify(value.format)}, expected ${JSON.stringify(EXPORT_FORMAT)}`;
  for (const field of ['log', 'origin', 'verifier_key', 'checkpoint'] as const) {
    if (typeof value[field] !== 'string' || value[field] === '') return `the header's ${field} must be a non-empty string`;
  }
  return value as unknown as ExportHeader;
}

/** The latest checkpoint, verified with the pinned key only when there is one, else with the bundle's. */
function openLatest(header: ExportHeader, trustedKey: string | undefined): { key: VerifierKey; checkpoint: ParsedCheckpoint } | { problem: string } {
  let key: VerifierKey;
  try {
    key = parseVerifierKey(trustedKey ?? header.verifier_key);
  } catch (err) {
    return { problem: `${trustedKey === undefined ? "the header's verifier key" : 'the trusted key'} is unusable: ${(err as Error).message}` };
  }
  try {
    return { key, checkpoint: openCheckpoint(header.checkpoint, [key], { origin: header.origin }).checkpoint };
  } catch (err) {
    const by = trustedKey === undefined ? "the export's own key" : 'the trusted key';
    return { problem: `the checkpoint does not verify with ${by} (${key.name}) for origin ${JSON.stringify(header.origin)}: ${(err as Error).message}` };
  }
}

function openPrevious(note: string, key: VerifierKey, origin: string): { checkpoint: ParsedCheckpoint } | { problem: string } {
  try {
    const { checkpoint } = openCheckpoint(note, [key], { origin });
    // An empty tree has one root; any other is not a checkpoint of this (or any RFC 6962) log.
    if (checkpoint.size === 0 && !checkpoint.rootHash.equals(EMPTY_ROOT)) {
      return { problem: 'not consistent with the previous checkpoint (size 0): its root is not the empty tree root' };
    }
    return { checkpoint };
  } catch (err) {
    return { problem: `the previous checkpoint does not verify with the same key and origin: ${(err as Error).message}` };
  }
}

/** The entry's recomputed leaf hash and the stored nodes the line carries, or why the line at `index` is refused. */
function checkEntryLine(line: string, index: number, log: string): { leaf: Hash; nodes: string[] | undefined } | string {
  const value = parseJson(line);
  if (!isRecord(value)) return 'the line is not a JSON object';
  const { entry, leaf_hash: stored, nodes } = value;
  if (typeof stored !== 'string' || !HEX_HASH.test(stored)) return 'leaf_hash must be 64 lowercase hex digits';
  if (nodes !== undefined && (!Array.isArray(nodes) || !nodes.every((n) => typeof n === 'string'))) return 'nodes must be a list of hex hashes';
  const shape = checkEntryShape(entry);
  if (shape !== undefined) return shape;
  const checked = entry as NumberedEntry;
  if (checked.account_id !== log) return `account_id ${JSON.stringify(checked.account_id)} is not the exported log ${JSON.stringify(log)}`;
  if (checked.idx !== index) return `idx is ${checked.idx} at position ${index}: an entry is missing, moved or repeated`;
  let leaf: Hash;
  try {
    leaf = leafHashOf(checked);
  } catch (err) {
    return `the entry cannot be canonicalised: ${(err as Error).message}`;
  }
  if (leaf.toString('hex') !== stored) return 'the leaf hash does not match the entry: the entry or its stored leaf hash was altered';
  return { leaf, nodes: nodes as string[] | undefined };
}

/**
 * Exactly the fields a leaf covers, each of its type. Unknown fields are refused: nothing would
 * vouch for them, yet a reader of the export could take them as verified.
 */
function checkEntryShape(entry: unknown): string | undefined {
  if (!isRecord(entry)) return 'entry must be a JSON object';
  const extra = Object.keys(entry).find((name) => !ENTRY_FIELDS.has(name));
  if (extra !== undefined) return `entry has the field ${JSON.stringify(extra)}, which no leaf covers`;
  if (!Number.isSafeInteger(entry.idx)) return 'idx must be an integer';
  const notString = ENTRY_STRINGS.find((name) => typeof entry[name] !== 'string');
  // Any string passes as the outcome: it is hashed as is, so one this build does not know is still proven.
  if (notString !== undefined) return `${notString} must be a string`;
  const notObject = ENTRY_OBJECTS.find((name) => !isRecord(entry[name]));
  if (notObject !== undefined) return `${notObject} must be a JSON object`;
  return undefined;
}

function parseJson(line: string): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
