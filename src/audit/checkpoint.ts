/**
 * Checkpoints (https://c2sp.org/tlog-checkpoint): the signed tree head of Cordon's audit log as the
 * body of a C2SP signed note. The body is three lines — origin, tree size in decimal, base64 RFC 6962
 * root hash — then optional extension lines. Parsing is strict so that one tree head has exactly one
 * text, and a witness or monitor reading ours sees exactly what we signed.
 */
import { decodeCanonicalBase64, openNote, signNote, type NoteSigner, type VerifierKey } from './note.js';

/** A tree head: which log, how many leaves, and the RFC 6962 root over them. */
export interface Checkpoint {
  /** The log's unique identity, e.g. `cordon.example.com/audit`. Should equal the log key's name. */
  origin: string;
  size: number;
  /** MTH of the first `size` leaves: 32 bytes of SHA-256. */
  rootHash: Buffer;
}

/** A parsed checkpoint and its extension lines, which the spec treats as opaque. */
export interface ParsedCheckpoint extends Checkpoint {
  extensions: string[];
}

/** A checkpoint body that breaks the tlog-checkpoint rules. */
export class InvalidCheckpoint extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(`invalid checkpoint: ${message}`, options);
    this.name = 'InvalidCheckpoint';
  }
}

const ROOT_HASH_BYTES = 32;
// tlog-checkpoint: the size is decimal with no leading zeros, so one size has one text.
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;
const CONTROL = /[\u0000-\u001f]/;

/** The checkpoint body text; `extensions` (each a non-empty line) follow the root hash. */
export function formatCheckpoint(checkpoint: Checkpoint & { extensions?: readonly string[] }): string {
  checkOrigin(checkpoint.origin);
  if (!Number.isSafeInteger(checkpoint.size) || checkpoint.size < 0) {
    throw new InvalidCheckpoint(`the size must be a non-negative safe integer, got ${checkpoint.size}`);
  }
  if (checkpoint.rootHash.length !== ROOT_HASH_BYTES) {
    throw new InvalidCheckpoint(`the root hash has ${checkpoint.rootHash.length} bytes, not ${ROOT_HASH_BYTES}`);
  }
  const extensions = checkpoint.extensions ?? [];
  extensions.forEach(checkExtension);
  const lines = [checkpoint.origin, String(checkpoint.size), checkpoint.rootHash.toString('base64'), ...extensions];
  return lines.map((line) => `${line}\n`).join('');
}

/**
 * Parses a checkpoint body. Refused: a missing final newline, an empty origin or control characters,
 * a size that is not canonical decimal or above 2^53 − 1 (the spec allows uint64; a Cordon log never
 * gets that large and a JS number cannot hold it exactly), a root hash that is not canonical base64
 * of exactly 32 bytes, and empty extension lines.
 */
export function parseCheckpoint(text: string): ParsedCheckpoint {
  if (!text.endsWith('\n')) throw new InvalidCheckpoint('the body must end in a newline');
  const lines = text.slice(0, -1).split('\n');
  const [origin, sizeText, rootText, ...extensions] = lines;
  if (origin === undefined || sizeText === undefined || rootText === undefined) {
    throw new InvalidCheckpoint('expected origin, size and root hash lines');
  }
  checkOrigin(origin);
  if (!DECIMAL.test(sizeText)) throw new InvalidCheckpoint('the size must be decimal digits without leading zeros');
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw new InvalidCheckpoint('the size is too large');
  const rootHash = decodeCanonicalBase64(rootText);
  if (rootHash === undefined) throw new InvalidCheckpoint('the root hash is not canonical base64');
  if (rootHash.length !== ROOT_HASH_BYTES) {
    throw new InvalidCheckpoint(`the root hash has ${rootHash.length} bytes, not ${ROOT_HASH_BYTES}`);
  }
  extensions.forEach(checkExtension);
  return { origin, size, rootHash, extensions };
}

/** The checkpoint as a signed note, ready to publish at `<prefix>/checkpoint` (tlog-tiles). */
export function signCheckpoint(
  checkpoint: Checkpoint & { extensions?: readonly string[] },
  signers: NoteSigner | readonly NoteSigner[],
): string {
  return signNote(formatCheckpoint(checkpoint), signers);
}

/** The result of `openCheckpoint`: the parsed body and who signed it. */
export interface OpenedCheckpoint {
  checkpoint: ParsedCheckpoint;
  verifiedBy: string[];
}

/**
 * Verifies a signed checkpoint (see `openNote`) and parses its body. Pass `origin` when the verifier
 * list holds keys of several logs: otherwise log A's key would vouch for a checkpoint naming log B.
 */
export function openCheckpoint(
  note: string | Uint8Array,
  verifiers: readonly VerifierKey[],
  expect: { origin?: string } = {},
): OpenedCheckpoint {
  const { text, verifiedBy } = openNote(note, verifiers);
  const checkpoint = parseCheckpoint(text);
  if (expect.origin !== undefined && checkpoint.origin !== expect.origin) {
    throw new InvalidCheckpoint(
      `origin ${JSON.stringify(checkpoint.origin)}, expected ${JSON.stringify(expect.origin)}`,
    );
  }
  return { checkpoint, verifiedBy };
}

function checkOrigin(origin: string): void {
  // Spaces are allowed: Rekor v1 origins look like `rekor.sigstore.dev - <tree ID>`.
  if (origin.length === 0) throw new InvalidCheckpoint('the origin is empty');
  if (CONTROL.test(origin) || /\p{Surrogate}/u.test(origin)) {
    throw new InvalidCheckpoint('the origin contains a control character or invalid Unicode');
  }
}

function checkExtension(line: string): void {
  if (line.length === 0) throw new InvalidCheckpoint('extension lines must be non-empty');
  if (CONTROL.test(line) || /\p{Surrogate}/u.test(line)) {
    throw new InvalidCheckpoint('an extension line contains a control character or invalid Unicode');
  }
}
