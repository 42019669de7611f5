/**
 * The format of every secret Cordon issues, made so that a leaked one is recognised anywhere (secret
 * scanners, code hosts) and a look-alike is refused offline, the way GitHub's own tokens are:
 *
 *   cordon_<kind>_<body><checksum>
 *
 * - `kind`: what the secret opens (SECRET_KINDS);
 * - `body`: 256 random bits in base62, left-padded with `0` to 43 characters;
 * - `checksum`: the CRC32 (ISO-HDLC, as zlib computes it) of everything before it, `cordon_<kind>_<body>`,
 *   in base62, left-padded to 6 characters. It is no protection against forgery (the secret's worth is in
 *   its 256 random bits), only a way to tell a real secret from a string that merely looks like one.
 *
 * base62 here is big-endian with the alphabet `0-9A-Za-z`. Parsing reads a bounded string and never
 * looks anything up: it says whether a string is well formed, not whether Cordon issued it.
 */
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/** The kinds of secret, by the code in their prefix, with what each opens. */
export const SECRET_KINDS = {
  cs: 'OAuth client secret',
  st: 'signal-source URL token',
  sh: 'signal-source HMAC secret',
  sess: 'session token (sign-in, CLI, console)',
} as const;

export type SecretKind = keyof typeof SECRET_KINDS;

/** Why a string is not a well-formed Cordon secret, in the order they are checked. */
export type SecretProblem = 'bad_prefix' | 'bad_length' | 'bad_charset' | 'bad_checksum';

export type ParsedSecret = { ok: true; kind: SecretKind } | { ok: false; problem: SecretProblem };

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BODY_LENGTH = 43; // 62^43 > 2^256
const CHECKSUM_LENGTH = 6; // 62^6 > 2^32
const TAIL_LENGTH = BODY_LENGTH + CHECKSUM_LENGTH;
const BASE62_TAIL = new RegExp(`^[0-9A-Za-z]{${TAIL_LENGTH}}$`);
const KINDS = Object.keys(SECRET_KINDS) as SecretKind[];
const isKind = (text: string): text is SecretKind => Object.hasOwn(SECRET_KINDS, text);

/** The longest well-formed secret; parsing refuses anything longer before reading it. */
export const MAX_SECRET_LENGTH = Math.max(...KINDS.map((kind) => `cordon_${kind}_`.length)) + TAIL_LENGTH;

/** `cordon_<kind>_`: the fixed start of every secret of a kind. */
export const secretPrefix = (kind: SecretKind): string => `cordon_${kind}_`;

function base62(value: bigint, length: number): string {
  let out = '';
  for (let rest = value; rest > 0n; rest /= 62n) out = ALPHABET[Number(rest % 62n)] + out;
  return out.padStart(length, '0');
}

const checksumOf = (text: string): string => base62(BigInt(crc32(text)), CHECKSUM_LENGTH);

/** A new secret of `kind`: 256 random bits, with its checksum. */
export function makeSecret(kind: SecretKind): string {
  const body = base62(BigInt(`0x${randomBytes(32).toString('hex')}`), BODY_LENGTH);
  const text = secretPrefix(kind) + body;
  return text + checksumOf(text);
}

/**
 * Whether `text` is a well-formed Cordon secret, and of which kind: prefix, length, alphabet and checksum,
 * offline. The work is bounded whatever the input (a longer string is refused on its length alone).
 */
export function parseSecret(text: string): ParsedSecret {
  const kind = /^cordon_([a-z]{1,8})_/.exec(text.slice(0, MAX_SECRET_LENGTH))?.[1];
  if (kind === undefined || !isKind(kind)) return { ok: false, problem: 'bad_prefix' };
  const tail = text.slice(secretPrefix(kind).length, MAX_SECRET_LENGTH + 1);
  if (tail.length !== TAIL_LENGTH) return { ok: false, problem: 'bad_length' };
  if (!BASE62_TAIL.test(tail)) return { ok: false, problem: 'bad_charset' };
  const checked = text.slice(0, -CHECKSUM_LENGTH);
  if (checksumOf(checked) !== text.slice(-CHECKSUM_LENGTH)) return { ok: false, problem: 'bad_checksum' };
  return { ok: true, kind };
}

/** What each problem means, for a person. */
export const SECRET_PROBLEMS: Record<SecretProblem, string> = {
  bad_prefix: `does not start with a Cordon prefix (${KINDS.map((k) => secretPrefix(k)).join(', ')})`,
  bad_length: `the part after the prefix is not ${TAIL_LENGTH} characters long`,
  bad_charset: 'the part after the prefix is not all base62 (0-9, A-Z, a-z)',
  bad_checksum: 'the checksum does not match: a look-alike, or a secret with a character changed',
};

/**
 * A well-formed secret shown without its secret part: the prefix and the checksum (`cordon_cs_…AbC123`),
 * enough to tell secrets apart in a report.
 */
export function maskSecret(secret: string): string {
  const parsed = parseSecret(secret);
  return parsed.ok ? `${secretPrefix(parsed.kind)}…${secret.slice(-CHECKSUM_LENGTH)}` : '…';
}

/**
 * For scanners: the pattern of one kind, unanchored, bounded on both sides by a character that cannot be
 * part of a secret. These are plain regular expressions (RE2, PCRE and JavaScript alike), as published in
 * the README; a match is then confirmed with parseSecret.
 */
export const secretPatternSource = (kind: SecretKind | readonly SecretKind[]): string =>
  `\\bcordon_${typeof kind === 'string' ? kind : `(?:${kind.join('|')})`}_[0-9A-Za-z]{${TAIL_LENGTH}}\\b`;

/** Per kind, the scanner's pattern (no `g` flag: add it with `new RegExp(p.source, 'g')` to find them all). */
export const SECRET_PATTERNS = Object.fromEntries(
  KINDS.map((kind) => [kind, new RegExp(secretPatternSource(kind))]),
) as Record<SecretKind, RegExp>;

/** Any kind of Cordon secret. */
export const SECRET_PATTERN = new RegExp(secretPatternSource(KINDS));

/*
 * Events tokens (oauth/events-tokens.ts) cannot take the `cordon_` form: 1Password's own collector parses
 * them as JWTs. They are recognisable all the same: their JOSE header always begins
 * `{"typ":"JWT","cty":"cordon-et","alg":"ES256","kid":"` (so their base64url always begins with the 68
 * characters of EVENTS_TOKEN_PREFIX), and it ends with `"crc"`, the CRC32 of the payload segment in base62,
 * the same checksum as above, so that a look-alike is refused offline.
 */
const EVENTS_TOKEN_HEADER_START = '{"typ":"JWT","cty":"cordon-et","alg":"ES256","kid":"';

/** The fixed start of every events token: the base64url of its header's first 51 bytes (17 whole groups). */
export const EVENTS_TOKEN_PREFIX = Buffer.from(EVENTS_TOKEN_HEADER_START.slice(0, 51)).toString('base64url');

/** An events token's JOSE header, in that order, for the payload segment it signs. */
export function eventsTokenHeader(kid: string, payloadSegment: string) {
  return { typ: 'JWT', cty: 'cordon-et', alg: 'ES256', kid, crc: checksumOf(payloadSegment) };
}

/** The longest events token parsing reads (header, payload and signature segments). */
const MAX_EVENTS_TOKEN_LENGTH = 4096;
const JWT_SEGMENTS = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{86})$/;

/** Whether `text` is a well-formed events token: its fixed header start, three segments, and its checksum. */
export function parseEventsToken(text: string): { ok: true } | { ok: false; problem: SecretProblem } {
  if (!text.startsWith(EVENTS_TOKEN_PREFIX)) return { ok: false, problem: 'bad_prefix' };
  if (text.length > MAX_EVENTS_TOKEN_LENGTH) return { ok: false, problem: 'bad_length' };
  const segments = JWT_SEGMENTS.exec(text);
  if (!segments) return { ok: false, problem: 'bad_charset' };
  let header: { crc?: unknown };
  try {
    header = JSON.parse(Buffer.from(segments[1]!, 'base64url').toString('utf8')) as { crc?: unknown };
  } catch {
    return { ok: false, problem: 'bad_charset' };
  }
  return header.crc === checksumOf(segments[2]!) ? { ok: true } : { ok: false, problem: 'bad_checksum' };
}

/** For scanners: an events token (its fixed start, then the rest of a JWT with an ES256 signature). */
export const EVENTS_TOKEN_PATTERN = new RegExp(
  `\\b${EVENTS_TOKEN_PREFIX}[A-Za-z0-9_-]{20,400}\\.[A-Za-z0-9_-]{20,2000}\\.[A-Za-z0-9_-]{86}\\b`,
);
