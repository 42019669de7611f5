/**
 * The offline verifier of an audit-log export (`cordon audit verify`). An export is JSON Lines: a
 * header with the log, the checkpoint origin, the log's verifier key and its latest signed checkpoint,
 * then one `{"leaf", "leaf_hash", "nodes"}` line per entry in index order, where `leaf` is the leaf's
 * own bytes, the RFC 8785 canonical JSON of the entry (audit/leaf.ts). The verifier hashes every
 * leaf, folds the leaves into the RFC 6962 root as they stream past, keeping only the right edge of
 * complete subtrees (O(log n) hashes), and compares that root with the signed one. An older checkpoint
 * the user saved is checked against the root of the same prefix, which is what catches a log that was
 * truncated and grown again.
 *
 * The verifier hashes each leaf's bytes as they stand in the file (read as bytes, never decoded), and
 * accepts a line only in exactly the shape `exportLine` writes. That is what makes a million entries
 * take seconds, and it is what makes the result mean something: the signed root, checked at the end,
 * vouches for those exact bytes, and a leaf the log signed is one canonical JSON object, so the `leaf`
 * any JSON reader finds in the line is the one proven. A reformatted line is refused even when it
 * would parse to the same entry, because a parser also takes duplicate members and rounds numbers, so
 * "parses to the same" proves nothing; the refusal says what is wrong with the line. Lines past the
 * checkpoint are refused too: nothing vouches for them.
 */
import { hash } from 'node:crypto';
import { openCheckpoint, type ParsedCheckpoint } from './checkpoint.js';
import { canonicalJson } from './jcs.js';
import { EMPTY_ROOT, foldRange, hashChildrenHex, hashLeafHex } from './merkle.js';
import { parseVerifierKey, type VerifierKey } from './note.js';

export const EXPORT_FORMAT = 'cordon-audit-export/v2';

/** The first line of an export. */
export interface ExportHeader {
  format: typeof EXPORT_FORMAT;
  /** The log's id: the `log` of every leaf. */
  log: string;
  /** The checkpoint origin the signed note must name. */
  origin: string;
  /** The log's C2SP verifier key text, as the exporter claims it; only trusted when the user pins it. */
  verifier_key: string;
  /** The full signed note of the latest checkpoint. */
  checkpoint: string;
}

/**
 * One line after the header, written by `exportLine` as `{"leaf":…,"leaf_hash":…,"nodes":[…]}` in
 * that order, the leaf as its canonical bytes.
 */
export interface ExportLine {
  /** The leaf: `leafObject(entry)` (audit/leaf.ts). */
  leaf: Record<string, unknown>;
  /** Lowercase hex of the leaf hash the log stored for the entry. */
  leaf_hash: string;
  /**
   * The stored interior nodes this leaf completes, level 1 up (hex). The signed root proves the entries
   * either way; the nodes let verify name a stored node that no longer matches them.
   */
  nodes: string[];
}

/** An export line for a leaf given as its canonical bytes (`leafData`), with what the log stored. */
export function exportLine(leafData: string, leafHash: string | null, nodes: Array<string | null>): string {
  return `{"leaf":${leafData},"leaf_hash":${JSON.stringify(leafHash)},"nodes":${JSON.stringify(nodes)}}\n`;
}

export interface VerifyOptions {
  /**
   * The verifier key text the user pins. Without it the bundle's own key is used and the report says `trusted: false`.
   */
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
      /** The checkpoint's size: entries 0..size−1 are proven (an export has no line past it). */
      size: number;
      /** Hex of the checkpoint's root, which the entries reproduce. */
      root: string;
      /** Whether the checkpoint was verified with a key the user pinned rather than the bundle's own. */
      trusted: boolean;
      previous?: { size: number };
    }
  | { ok: false; problem: string; firstBadIndex?: number };

export const PROGRESS_EVERY = 4096;

const LEAF_STRINGS = ['log', 'time', 'action', 'outcome'] as const;
const LEAF_PARTIES = ['actor', 'target'] as const;
const LEAF_OBJECTS = ['cause', 'authz', 'details'] as const;
const LEAF_FIELDS = new Set<string>(['index', ...LEAF_STRINGS, ...LEAF_PARTIES, ...LEAF_OBJECTS]);
const HEX_HASH = /^[0-9a-f]{64}$/;

/**
 * Checks an export given as bytes or text (a file or an HTTP body, in chunks of any size), reporting
 * the first problem in the order header, entries, root, previous checkpoint.
 */
export async function verifyExport(
  source: AsyncIterable<Buffer | string>,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const iterator = source[Symbol.asyncIterator]();
  const verifier = new ExportVerifier(options);
  try {
    let rest = Buffer.alloc(0);
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      const chunk = typeof next.value === 'string' ? Buffer.from(next.value, 'utf8') : next.value;
      const data = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
      let start = 0;
      for (let end = data.indexOf(NEWLINE, start); end >= 0; start = end + 1, end = data.indexOf(NEWLINE, start)) {
        const failed = verifier.line(data.subarray(start, end));
        if (failed) return failed;
      }
      // Copied, so that the chunk it came from is not held alive by a small remainder.
      rest = Buffer.from(data.subarray(start));
    }
    return verifier.line(rest) ?? verifier.end();
  } finally {
    // Close the source (a file, a stream) when we stop early; a no-op once it is exhausted.
    await iterator.return?.();
  }
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
/** Only whitespace (or nothing): what a trailing newline leaves. */
const isBlank = (line: Buffer) => line.every((byte) => byte === 0x20 || byte === 0x09 || byte === 0x0d);

/** The verifier's state between lines: one synchronous step per line keeps the hot loop free of awaits. */
class ExportVerifier {
  private header: ExportHeader | undefined;
  private checkpoint!: ParsedCheckpoint;
  private previous: ReturnType<typeof openPrevious> | undefined;
  private readonly tree = new CompactRange();
  private prefixRoot: string | undefined;

  constructor(private readonly options: VerifyOptions) {}

  /** Takes the next line (without its newline); a report when it ends the verification (a failure). */
  line(bytes: Buffer): VerifyReport | undefined {
    const line = bytes.at(-1) === CARRIAGE_RETURN ? bytes.subarray(0, -1) : bytes;
    if (this.header === undefined) return this.start(line.toString('utf8'));
    const { tree } = this;
    const index = tree.size;
    if (isBlank(line)) return undefined; // a trailing newline, or blank lines
    if (index >= this.checkpoint.size) {
      return fail(
        `entry ${index}: the export goes past its checkpoint (size ${this.checkpoint.size}): nothing vouches for ` +
          `this line, and an export never has one`,
        index,
      );
    }
    const checked = fastLine(line, index, this.header.log);
    if (checked === undefined)
      return fail(`entry ${index}: ${diagnose(line.toString('utf8'), index, this.header.log)}`, index);
    const made = tree.append(checked.leaf);
    const { nodes } = checked;
    if (nodes.length !== made.length || made.some((hash, i) => hash !== nodes[i])) {
      const level = made.findIndex((hash, i) => hash !== nodes[i]);
      const bad = level >= 0 ? level + 1 : Math.min(made.length, nodes.length) + 1;
      const first = index + 1 - 2 ** bad;
      return fail(
        `entry ${first}: the stored tree node at level ${bad} over entries ${first}..${index} does not match the ` +
          `entries`,
        first,
      );
    }
    if (tree.size % PROGRESS_EVERY === 0) this.options.onProgress?.(tree.size, this.checkpoint.size);
    return this.reached();
  }

  /** The end of the export: the report. */
  end(): VerifyReport {
    if (this.header === undefined) return fail('the export is empty: no header line');
    const { tree, checkpoint, previous } = this;
    const { size } = checkpoint;
    this.options.onProgress?.(tree.size, size);
    if (tree.size < size) {
      return fail(
        `entry ${tree.size} is missing: the export ends after ${tree.size} entries but the checkpoint covers ${size}`,
        tree.size,
      );
    }
    const report: VerifyReport = {
      ok: true,
      log: this.header.log,
      size,
      root: checkpoint.rootHash.toString('hex'),
      trusted: this.options.trustedKey !== undefined,
    };
    if (previous === undefined) return report;
    if ('problem' in previous) return fail(previous.problem);
    const before = previous.checkpoint;
    if (before.size > size) {
      return fail(
        `not consistent with the previous checkpoint (size ${before.size}): the log has shrunk to ${size} entries`,
      );
    }
    if (this.prefixRoot !== before.rootHash.toString('hex')) {
      return fail(
        `not consistent with the previous checkpoint (size ${before.size}): the first ${before.size} entries have ` +
          `another root, so the log was rewritten since`,
      );
    }
    return { ...report, previous: { size: before.size } };
  }

  private start(line: string): VerifyReport | undefined {
    if (line.trim() === '') return undefined; // blank lines before the header
    const header = parseHeader(line);
    if (typeof header === 'string') return fail(header);
    const opened = openLatest(header, this.options.trustedKey);
    if ('problem' in opened) return fail(opened.problem);
    this.header = header;
    this.checkpoint = opened.checkpoint;
    // Opened now because its size says which prefix root to keep; its failure is reported last, in order.
    const { previousCheckpoint } = this.options;
    if (previousCheckpoint !== undefined) this.previous = openPrevious(previousCheckpoint, opened.key, header.origin);
    return this.reached();
  }

  /** Keeps the prefix root the previous checkpoint needs, and checks the signed root, at their sizes. */
  private reached(): VerifyReport | undefined {
    const { tree, checkpoint, previous } = this;
    if (previous !== undefined && 'checkpoint' in previous && tree.size === previous.checkpoint.size)
      this.prefixRoot = tree.root();
    if (tree.size === checkpoint.size && tree.root() !== checkpoint.rootHash.toString('hex')) {
      return fail(
        `root does not match the signed checkpoint (size ${checkpoint.size}): the entries are not the ones the log ` +
          `signed`,
      );
    }
    return undefined;
  }
}

/** A line's leaf hash (hex, recomputed) and the stored nodes it carries. */
interface CheckedLine {
  leaf: string;
  nodes: string[];
}

const LINE_HEAD = Buffer.from('{"leaf":');
const LINE_TAIL = Buffer.from(',"leaf_hash":"');
const TAIL = /^,"leaf_hash":"([0-9a-f]{64})","nodes":\[((?:"[0-9a-f]{64}")(?:,"[0-9a-f]{64}")*)?\]\}$/;
const POSITION_KEY = Buffer.from(',"index":');
const POSITION = /^,"index":(0|[1-9][0-9]{0,15}),"log":"([^"\\]*)","outcome":/;
/** 0x00 and then the leaf's bytes: the leaf hash's input, reused from line to line. */
let leafInput = Buffer.alloc(4096);

/**
 * The fast path: a line exactly as `exportLine` writes it, whose leaf bytes hash to its stored leaf
 * hash, and whose index and log (read from the fixed tail of a canonical leaf, after `details`) are
 * the expected ones. Anything else is undefined, for `slowLine` to judge.
 */
function fastLine(line: Buffer, index: number, log: string): CheckedLine | undefined {
  if (line.length < LINE_HEAD.length || line.compare(LINE_HEAD, 0, LINE_HEAD.length, 0, LINE_HEAD.length) !== 0)
    return undefined;
  const tailAt = line.lastIndexOf(LINE_TAIL);
  if (tailAt < 0) return undefined;
  const tail = TAIL.exec(line.toString('latin1', tailAt));
  if (tail === null) return undefined;
  const leafBytes = line.subarray(LINE_HEAD.length, tailAt);
  if (leafInput.length <= leafBytes.length) leafInput = Buffer.alloc(2 * leafBytes.length);
  leafBytes.copy(leafInput, 1);
  const leaf = hash('sha256', leafInput.subarray(0, leafBytes.length + 1), 'hex');
  if (leaf !== tail[1]) return undefined;
  // In a canonical leaf the last `,"index":` is the top-level one: inside strings quotes are escaped.
  const positionAt = leafBytes.lastIndexOf(POSITION_KEY);
  const position = positionAt < 0 ? null : POSITION.exec(leafBytes.toString('utf8', positionAt, positionAt + 200));
  if (position === null || Number(position[1]) !== index || position[2] !== log) return undefined;
  return { leaf, nodes: tail[2] === undefined ? [] : tail[2].split(',').map((node) => node.slice(1, -1)) };
}

/**
 * Why a line is refused. Only the exporter's exact form is ever accepted (fastLine): a JSON parser
 * would take a reformatted line's duplicate member, or round a number, and so could read another
 * entry than the one whose bytes were hashed. This only explains the refusal.
 */
function diagnose(line: string, index: number, log: string): string {
  const value = parseJson(line);
  if (!isRecord(value)) return 'the line is not a JSON object';
  const { leaf, leaf_hash: stored, nodes } = value;
  const extra = Object.keys(value).find((name) => name !== 'leaf' && name !== 'leaf_hash' && name !== 'nodes');
  if (extra !== undefined) return `the line has the field ${JSON.stringify(extra)}, which no leaf covers`;
  if (typeof stored !== 'string' || !HEX_HASH.test(stored)) return 'leaf_hash must be 64 lowercase hex digits';
  if (!Array.isArray(nodes) || !nodes.every((n) => typeof n === 'string' && HEX_HASH.test(n)))
    return 'nodes must be a list of hex hashes';
  const shape = checkLeafShape(leaf);
  if (shape !== undefined) return shape;
  const checked = leaf as { log: string; index: number };
  if (checked.log !== log) return `log ${JSON.stringify(checked.log)} is not the exported log ${JSON.stringify(log)}`;
  if (checked.index !== index)
    return `index is ${checked.index} at position ${index}: an entry is missing, moved or repeated`;
  let canonical: string;
  try {
    canonical = canonicalJson(leaf);
  } catch (err) {
    return `the leaf cannot be canonicalised: ${(err as Error).message}`;
  }
  if (hashLeafHex(canonical) !== stored)
    return 'the leaf hash does not match the leaf: the entry or its stored leaf hash was altered';
  return (
    'the line is not byte for byte what `cordon audit export` writes (reformatted, or its leaf not in RFC 8785 ' +
    'form): verify the export as exported'
  );
}

/**
 * Exactly the fields a leaf has, each of its type. Unknown fields are refused: a reader of the export
 * could take them for verified, and they would only fail later, on the hash, with a vaguer message.
 */
function checkLeafShape(leaf: unknown): string | undefined {
  if (!isRecord(leaf)) return 'leaf must be a JSON object';
  const extra = Object.keys(leaf).find((name) => !LEAF_FIELDS.has(name));
  if (extra !== undefined) return `leaf has the field ${JSON.stringify(extra)}, which no leaf covers`;
  if (!Number.isSafeInteger(leaf.index)) return 'index must be an integer';
  // Any string passes as the outcome: it is hashed as is, so one this build does not know is still proven.
  const notString = LEAF_STRINGS.find((name) => typeof leaf[name] !== 'string');
  if (notString !== undefined) return `${notString} must be a string`;
  for (const name of LEAF_PARTIES) {
    const party = leaf[name];
    if (
      !isRecord(party) ||
      Object.keys(party).length !== 2 ||
      typeof party.type !== 'string' ||
      typeof party.id !== 'string'
    ) {
      return `${name} must be {"id", "type"} strings`;
    }
  }
  const notObject = LEAF_OBJECTS.find((name) => !isRecord(leaf[name]));
  if (notObject !== undefined) return `${notObject} must be a JSON object`;
  return undefined;
}

/**
 * The right edge of the tree of the leaves so far: the hashes of `rangeNodes(0, size)`, largest
 * first (a "compact range"), in hex. Appending a leaf merges it with one edge subtree per trailing 1
 * bit of the old size, the subtrees it completes, so it costs one hash on average.
 */
class CompactRange {
  private readonly edge: string[] = [];
  size = 0;

  /** Appends a leaf; returns the interior nodes it completes, level 1 up. */
  append(leaf: string): string[] {
    const made: string[] = [];
    let hash = leaf;
    for (let s = this.size; s % 2 === 1; s = (s - 1) / 2) made.push((hash = hashChildrenHex(this.edge.pop()!, hash)));
    this.edge.push(hash);
    this.size++;
    return made;
  }

  /** MTH of the leaves so far (RFC 6962 §2.1), in hex. */
  root(): string {
    return foldRange(this.edge.map((hash) => Buffer.from(hash, 'hex'))).toString('hex');
  }
}

function fail(problem: string, firstBadIndex?: number): VerifyReport {
  return firstBadIndex === undefined ? { ok: false, problem } : { ok: false, problem, firstBadIndex };
}

function parseHeader(line: string): ExportHeader | string {
  const value = parseJson(line);
  if (!isRecord(value)) return 'the header is not a JSON object';
  if (value.format !== EXPORT_FORMAT)
    return `the header's format is ${JSON.stringify(value.format)}, expected ${JSON.stringify(EXPORT_FORMAT)}`;
  for (const field of ['log', 'origin', 'verifier_key', 'checkpoint'] as const) {
    if (typeof value[field] !== 'string' || value[field] === '')
      return `the header's ${field} must be a non-empty string`;
  }
  return value as unknown as ExportHeader;
}

/** The latest checkpoint, verified with the pinned key only when there is one, else with the bundle's. */
function openLatest(
  header: ExportHeader,
  trustedKey: string | undefined,
): { key: VerifierKey; checkpoint: ParsedCheckpoint } | { problem: string } {
  let key: VerifierKey;
  try {
    key = parseVerifierKey(trustedKey ?? header.verifier_key);
  } catch (err) {
    return {
      problem:
        `${trustedKey === undefined ? "the header's verifier key" : 'the trusted key'} is unusable: ` +
        `${(err as Error).message}`,
    };
  }
  try {
    return { key, checkpoint: openCheckpoint(header.checkpoint, [key], { origin: header.origin }).checkpoint };
  } catch (err) {
    const by = trustedKey === undefined ? "the export's own key" : 'the trusted key';
    return {
      problem:
        `the checkpoint does not verify with ${by} (${key.name}) for origin ${JSON.stringify(header.origin)}: ` +
        `${(err as Error).message}`,
    };
  }
}

function openPrevious(
  note: string,
  key: VerifierKey,
  origin: string,
): { checkpoint: ParsedCheckpoint } | { problem: string } {
  try {
    const { checkpoint } = openCheckpoint(note, [key], { origin });
    // An empty tree has one root; any other is not a checkpoint of this (or any RFC 6962) log.
    if (checkpoint.size === 0 && !checkpoint.rootHash.equals(EMPTY_ROOT)) {
      return { problem: 'not consistent with the previous checkpoint (size 0): its root is not the empty tree root' };
    }
    return { checkpoint };
  } catch (err) {
    return {
      problem: `the previous checkpoint does not verify with the same key and origin: ${(err as Error).message}`,
    };
  }
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
