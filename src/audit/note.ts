/**
 * C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 signatures (signature type 0x01).
 *
 * A note is UTF-8 text ending in a newline, a blank line, then one signature line per signer:
 * `— <key name> <base64(4-byte key ID || signature)>`. Cordon signs its checkpoints this way so that
 * any signed-note verifier (Go's sumdb/note, witnesses, monitors) can check them without Cordon code.
 * Only node:crypto is used; keys are KeyObjects built from raw 32-byte Ed25519 public keys.
 */
import { createHash, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

/** Signature type 0x01: Ed25519 over the note text (signed-note §Signature types). */
export const SIG_TYPE_ED25519 = 0x01;

/** The spec requires accepting at least 16 signatures; more than this many lines is refused outright. */
export const MAX_SIGNATURE_LINES = 100;

const SIG_PREFIX = '\u2014 '; // em dash U+2014, then a space
const ED25519_PUBLIC_KEY_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;

/** Why a note was refused; stable strings so callers can log and map them. */
export type InvalidNoteReason =
  | 'malformed-text' // empty, no trailing newline, control character or not valid UTF-8
  | 'missing-signature-block' // no blank line followed by signature lines
  | 'malformed-signature-line'
  | 'too-many-signatures'
  | 'signature-invalid' // a signature by a known key does not verify
  | 'unverified'; // no signature by a known key

/** A note (or a note text about to be signed) that breaks the signed-note rules. */
export class InvalidNote extends Error {
  readonly reason: InvalidNoteReason;

  constructor(reason: InvalidNoteReason, message: string, options?: { cause?: unknown }) {
    super(`invalid note (${reason}): ${message}`, options);
    this.name = 'InvalidNote';
    this.reason = reason;
  }
}

/** A key name, verifier key or signer that cannot be used. */
export class InvalidNoteKey extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(`invalid note key: ${message}`, options);
    this.name = 'InvalidNoteKey';
  }
}

/** A key that may sign notes. The key name is what appears on the signature line. */
export interface NoteSigner {
  name: string;
  privateKey: KeyObject;
}

/** A key that notes are checked against, identified on signature lines by name *and* key ID. */
export interface VerifierKey {
  name: string;
  /** The 4-byte key ID as an unsigned 32-bit integer. */
  keyId: number;
  publicKey: KeyObject;
}

/**
 * Key names must be non-empty and contain no Unicode whitespace and no '+' (signed-note §Format):
 * the space ends the name on a signature line and '+' ends it in a verifier key. We also refuse
 * control characters, which could never appear on a valid signature line anyway.
 */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !/[\p{White_Space}+\u0000-\u001f]/u.test(name) && isWellFormedUnicode(name);
}

/**
 * The recommended key ID: the first 4 bytes of SHA-256(name || 0x0A || sigType || publicKey)
 * (signed-note §Signatures). Binding the name and type into the ID stops a key from being replayed
 * under another name or algorithm.
 */
export function noteKeyId(name: string, sigType: number, publicKeyRaw: Uint8Array): Buffer {
  if (!Number.isInteger(sigType) || sigType < 0 || sigType > 0xff)
    throw new InvalidNoteKey(`bad signature type ${sigType}`);
  return createHash('sha256')
    .update(name, 'utf8')
    .update(Buffer.of(0x0a, sigType))
    .update(publicKeyRaw)
    .digest()
    .subarray(0, 4);
}

/** The verifier key text `<name>+<hex key ID>+<base64(0x01 || public key)>` for an Ed25519 key. */
export function formatVerifierKey(name: string, publicKey: KeyObject): string {
  if (!isValidKeyName(name)) throw new InvalidNoteKey(`bad key name ${JSON.stringify(name)}`);
  const raw = rawEd25519PublicKey(publicKey);
  const keyId = noteKeyId(name, SIG_TYPE_ED25519, raw).toString('hex');
  return `${name}+${keyId}+${Buffer.concat([Buffer.of(SIG_TYPE_ED25519), raw]).toString('base64')}`;
}

/**
 * Parses and checks a verifier key: valid name, 8 hex digits of key ID that match the ID recomputed
 * from name and key, signature type 0x01 and exactly 32 key bytes. Other signature types are refused
 * because this module can only verify Ed25519.
 */
export function parseVerifierKey(text: string): VerifierKey {
  // Split at the first two '+' only: the base64 key itself may contain '+'.
  const first = text.indexOf('+');
  const second = first < 0 ? -1 : text.indexOf('+', first + 1);
  if (second < 0) throw new InvalidNoteKey('expected <name>+<key ID>+<key>');
  const name = text.slice(0, first);
  const idHex = text.slice(first + 1, second);
  const keyB64 = text.slice(second + 1);
  if (!isValidKeyName(name)) throw new InvalidNoteKey(`bad key name ${JSON.stringify(name)}`);
  if (!/^[0-9a-fA-F]{8}$/.test(idHex)) throw new InvalidNoteKey('the key ID must be 8 hex digits');
  const key = decodeCanonicalBase64(keyB64);
  if (key === undefined) throw new InvalidNoteKey('the key is not canonical base64');
  if (key[0] !== SIG_TYPE_ED25519) throw new InvalidNoteKey(`unsupported signature type ${key[0] ?? 'none'}`);
  const raw = key.subarray(1);
  if (raw.length !== ED25519_PUBLIC_KEY_BYTES)
    throw new InvalidNoteKey(`an Ed25519 key has 32 bytes, not ${raw.length}`);
  const keyId = parseInt(idHex, 16);
  if (noteKeyId(name, SIG_TYPE_ED25519, raw).readUInt32BE(0) !== keyId) {
    throw new InvalidNoteKey('the key ID does not match the name and key');
  }
  return { name, keyId, publicKey: ed25519PublicKeyFromRaw(raw) };
}

/**
 * Signs `text` with each signer, in order, and returns the complete note. The text must end in a
 * newline and contain no control character other than newline (signed-note §Format); it is signed
 * as UTF-8 bytes exactly as given.
 */
export function signNote(text: string, signers: NoteSigner | readonly NoteSigner[]): string {
  assertNoteText(text);
  // Array.isArray narrows a readonly array to any[]: say what it is.
  const list: readonly NoteSigner[] = Array.isArray(signers)
    ? (signers as readonly NoteSigner[])
    : [signers as NoteSigner];
  if (list.length === 0) throw new InvalidNoteKey('at least one signer is needed');
  if (list.length > MAX_SIGNATURE_LINES) throw new InvalidNoteKey(`at most ${MAX_SIGNATURE_LINES} signers`);
  const message = Buffer.from(text, 'utf8');
  const lines = list.map((signer) => {
    if (!isValidKeyName(signer.name)) throw new InvalidNoteKey(`bad key name ${JSON.stringify(signer.name)}`);
    if (signer.privateKey.type !== 'private' || signer.privateKey.asymmetricKeyType !== 'ed25519') {
      throw new InvalidNoteKey(`${signer.name}: expected an Ed25519 private key`);
    }
    const raw = rawEd25519PublicKey(createPublicKey(signer.privateKey));
    const keyId = noteKeyId(signer.name, SIG_TYPE_ED25519, raw);
    const signature = sign(null, message, signer.privateKey);
    return `${SIG_PREFIX}${signer.name} ${Buffer.concat([keyId, signature]).toString('base64')}\n`;
  });
  return `${text}\n${lines.join('')}`;
}

/** The outcome of `openNote`: the signed text and the names of the known keys that signed it. */
export interface OpenedNote {
  text: string;
  /** Names of the verifiers whose signature verified, without repeats, in order of first appearance. */
  verifiedBy: string[];
}

/**
 * Checks a signed note against known verifier keys (signed-note §Verification). Signatures by keys
 * not in `verifiers` (matched on name and key ID) are ignored; any signature by a known key that
 * fails makes the whole note invalid; at least one must verify. Bytes are decoded as strict UTF-8.
 */
export function openNote(note: string | Uint8Array, verifiers: readonly VerifierKey[]): OpenedNote {
  const message = typeof note === 'string' ? note : decodeUtf8(note);
  if (!isWellFormedUnicode(message)) throw new InvalidNote('malformed-text', 'the note is not valid UTF-8');
  if (/[\u0000-\u0009\u000b-\u001f]/.test(message)) {
    throw new InvalidNote('malformed-text', 'the note contains a control character');
  }
  // The signature block starts after the last blank line; the text keeps its final newline.
  const split = message.lastIndexOf('\n\n');
  if (split < 0) throw new InvalidNote('missing-signature-block', 'no blank line before signatures');
  const text = message.slice(0, split + 1);
  const block = message.slice(split + 2);
  if (block.length === 0 || !block.endsWith('\n')) {
    throw new InvalidNote('missing-signature-block', 'the signature block must be non-empty and end in a newline');
  }
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURE_LINES) {
    throw new InvalidNote('too-many-signatures', `${lines.length} signature lines, at most ${MAX_SIGNATURE_LINES}`);
  }

  const messageBytes = Buffer.from(text, 'utf8');
  const verifiedBy: string[] = [];
  for (const line of lines) {
    const { name, keyId, signature } = parseSignatureLine(line);
    const verifier = verifiers.find((v) => v.name === name && v.keyId === keyId);
    if (verifier === undefined) continue; // unknown keys are ignored (they may be other logs' or witnesses')
    // Unlike Go's sumdb/note we check repeated lines by the same key too: a bad one is still bad.
    const ok =
      signature.length === ED25519_SIGNATURE_BYTES && verify(null, messageBytes, verifier.publicKey, signature);
    if (!ok) throw new InvalidNote('signature-invalid', `the signature by ${name} does not verify`);
    if (!verifiedBy.includes(name)) verifiedBy.push(name);
  }
  if (verifiedBy.length === 0) throw new InvalidNote('unverified', 'no signature by a known key');
  return { text, verifiedBy };
}

/** A fresh Ed25519 note signer, with its public key and verifier key text (for config and tests). */
export function generateNoteSigner(name: string): NoteSigner & { publicKey: KeyObject; verifierKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { name, privateKey, publicKey, verifierKey: formatVerifierKey(name, publicKey) };
}

/**
 * Strict base64 (RFC 4648 §4, padded): Buffer.from(…, 'base64') skips junk and accepts the URL
 * alphabet, which would make encodings malleable, so we also require the canonical re-encoding
 * (RFC 4648 §3.5: pad bits are zero). Returns undefined when `text` is not canonical.
 */
export function decodeCanonicalBase64(text: string): Buffer | undefined {
  if (text.length === 0 || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

function parseSignatureLine(line: string): { name: string; keyId: number; signature: Buffer } {
  if (!line.startsWith(SIG_PREFIX)) {
    throw new InvalidNote('malformed-signature-line', 'a signature line must start with an em dash and a space');
  }
  const rest = line.slice(SIG_PREFIX.length);
  const space = rest.indexOf(' ');
  const name = space < 0 ? rest : rest.slice(0, space);
  const blob = space < 0 ? undefined : decodeCanonicalBase64(rest.slice(space + 1));
  if (!isValidKeyName(name)) throw new InvalidNote('malformed-signature-line', 'bad key name on a signature line');
  // At least the 4-byte key ID and one byte of signature.
  if (blob === undefined || blob.length < 5) {
    throw new InvalidNote('malformed-signature-line', `the signature by ${name} is not base64 of key ID and signature`);
  }
  return { name, keyId: blob.readUInt32BE(0), signature: blob.subarray(4) };
}

function assertNoteText(text: string): void {
  if (!text.endsWith('\n')) throw new InvalidNote('malformed-text', 'the text must end in a newline');
  if (!isWellFormedUnicode(text)) throw new InvalidNote('malformed-text', 'the text is not valid Unicode');
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) {
    throw new InvalidNote('malformed-text', 'the text contains a control character other than newline');
  }
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    // ignoreBOM keeps a leading U+FEFF, so the text we verify is byte-for-byte what was signed.
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (cause) {
    throw new InvalidNote('malformed-text', 'the note is not valid UTF-8', { cause });
  }
}

/** No lone surrogates, i.e. the string has a UTF-8 encoding (String#isWellFormed is ES2024). */
function isWellFormedUnicode(text: string): boolean {
  return !/\p{Surrogate}/u.test(text);
}

function rawEd25519PublicKey(key: KeyObject): Buffer {
  if (key.type !== 'public' || key.asymmetricKeyType !== 'ed25519') {
    throw new InvalidNoteKey('expected an Ed25519 public key');
  }
  const { x } = key.export({ format: 'jwk' });
  if (x === undefined) throw new InvalidNoteKey('the key has no public part');
  return Buffer.from(x, 'base64url');
}

function ed25519PublicKeyFromRaw(raw: Buffer): KeyObject {
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  } catch (cause) {
    throw new InvalidNoteKey('not an Ed25519 public key', { cause });
  }
}
