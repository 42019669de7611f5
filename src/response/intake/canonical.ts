/**
 * Cordon's own signal body (what `/signals` takes without a format adapter) → CanonicalSignal.
 *
 * This is the canonical shape itself, so it is checked strictly: the client wrote it against our
 * documented contract, and a mistake there is better reported than guessed around. The SIEM mappers
 * truncate and cap what a SIEM sends; this one refuses what breaks a limit.
 *
 * | field         | rule                                                                          | default      |
 * |---------------|-------------------------------------------------------------------------------|--------------|
 * | external_id   | string, 1..200 chars after trimming                                           | required     |
 * | type          | string, 1..200 chars after trimming                                           | required     |
 * | title         | string, at most 500 chars                                                     | type         |
 * | severity      | one of info, low, medium, high, critical                                      | medium       |
 * | confidence    | number, 0..1                                                                  | 0.5          |
 * | subject       | object with only user_id, email, upn, username: strings of 1..320 chars;      | required, {} |
 * |               | email and upn must be name@domain                                             | allowed      |
 * | observed_time | RFC 3339 date-time with a time zone, normalised to UTC with milliseconds      | now          |
 * | tags          | at most 32 strings of 1..100 chars; lowercased and deduplicated               | []           |
 * | secret        | type `secret.leaked` only: {sha256: 64 hex digits, url?: 1..200 chars}, kept  | required for |
 * |               | as attributes `secret.sha256`, `secret.url` (the leak found without the       | that type    |
 * |               | secret: an internal scanner or a SIEM reports it by its SHA-256)              |              |
 *
 * Any other top-level or subject field is refused, so that a misspelt `severty` does not silently
 * become "medium".
 */
import {
  type CanonicalSignal,
  type JsonObject,
  type Severity,
  type SubjectHints,
  DEFAULT_CONFIDENCE,
  LIMITS,
  SEVERITIES,
  invalidSignal,
  looksLikeEmail,
  optionalArray,
  optionalNumber,
  optionalRecord,
  optionalString,
  own,
  requireRoot,
  requireText,
  shapeTags,
  shapeTitle,
  timeFromRfc3339,
} from './signal.js';

const TOP_LEVEL = [
  'external_id',
  'type',
  'title',
  'severity',
  'confidence',
  'subject',
  'observed_time',
  'tags',
  'secret',
] as const;
/** The type of a leak of a Cordon secret reported by its hash (README, Leak reports). */
export const SECRET_LEAKED = 'secret.leaked';
const SECRET_FIELDS = ['sha256', 'url'] as const;
const SUBJECT_FIELDS = ['user_id', 'email', 'upn', 'username'] as const;

export function mapCanonical(
  payload: unknown,
  now: Date,
  defaultConfidence = DEFAULT_CONFIDENCE.canonical,
): CanonicalSignal {
  const body = requireRoot(payload);
  rejectUnknown(body, TOP_LEVEL, '');

  const type = requireText(own(body, 'type'), 'type', LIMITS.type);
  const title = optionalString(own(body, 'title'), 'title');
  if (title !== undefined && title.length > LIMITS.title)
    throw invalidSignal('title', `must be at most ${LIMITS.title} characters`);
  const observed = optionalString(own(body, 'observed_time'), 'observed_time');

  return {
    external_id: requireText(own(body, 'external_id'), 'external_id', LIMITS.externalId),
    type,
    title: shapeTitle(title, type),
    severity: severityOf(own(body, 'severity')),
    confidence: confidenceOf(own(body, 'confidence')) ?? defaultConfidence,
    subject: subjectOf(own(body, 'subject')),
    observed_time: observed === undefined ? now.toISOString() : timeFromRfc3339(observed, 'observed_time'),
    tags: tagsOf(own(body, 'tags')),
    attributes: secretOf(own(body, 'secret'), type),
  };
}

/** A field name fit to repeat to the client: a plain identifier, never an arbitrary (maybe secret) string. */
function fieldName(prefix: string, key: string): string {
  return /^[A-Za-z0-9_.@-]{1,64}$/.test(key) ? `${prefix}${key}` : `${prefix}(unnamed field)`;
}

function rejectUnknown(object: JsonObject, allowed: readonly string[], prefix: string): void {
  for (const key of Object.keys(object)) {
    if (!allowed.includes(key))
      throw invalidSignal(fieldName(prefix, key), `is not a known field (known: ${allowed.join(', ')})`);
  }
}

function severityOf(raw: unknown): Severity {
  const severity = optionalString(raw, 'severity');
  if (severity === undefined) return 'medium';
  if (!SEVERITIES.includes(severity as Severity))
    throw invalidSignal('severity', `must be one of ${SEVERITIES.join(', ')}`);
  return severity as Severity;
}

function confidenceOf(raw: unknown): number | undefined {
  // Strict: a JSON number, not the numeric strings the SIEM mappers tolerate.
  if (raw !== undefined && typeof raw !== 'number')
    throw invalidSignal('confidence', 'must be a number between 0 and 1');
  const confidence = optionalNumber(raw, 'confidence');
  if (confidence === undefined) return undefined;
  if (confidence < 0 || confidence > 1) throw invalidSignal('confidence', 'must be a number between 0 and 1');
  return confidence;
}

function subjectOf(raw: unknown): SubjectHints {
  const subject = optionalRecord(raw, 'subject');
  if (subject === undefined) throw invalidSignal('subject', 'is required (send {} when the alert names no user)');
  rejectUnknown(subject, SUBJECT_FIELDS, 'subject.');
  const hints: SubjectHints = {};
  for (const name of SUBJECT_FIELDS) {
    const field = `subject.${name}`;
    const value = optionalString(own(subject, name), field);
    if (value === undefined) {
      if (own(subject, name) !== undefined) throw invalidSignal(field, 'must not be empty');
      continue;
    }
    if (value.length > LIMITS.hint) throw invalidSignal(field, `must be at most ${LIMITS.hint} characters`);
    if ((name === 'email' || name === 'upn') && !looksLikeEmail(value))
      throw invalidSignal(field, 'must look like name@domain');
    hints[name] = value;
  }
  return hints;
}

/** A `secret.leaked` signal's secret: its SHA-256 (never the secret) and where it was found. */
function secretOf(raw: unknown, type: string): Record<string, string> {
  if (type !== SECRET_LEAKED) {
    if (raw !== undefined) throw invalidSignal('secret', `applies to ${SECRET_LEAKED} signals only`);
    return {};
  }
  const secret = optionalRecord(raw, 'secret');
  if (secret === undefined)
    throw invalidSignal('secret', `is required for a ${SECRET_LEAKED} signal: {"sha256": <SHA-256 hex>, "url"?}`);
  rejectUnknown(secret, SECRET_FIELDS, 'secret.');
  const sha256 = optionalString(own(secret, 'sha256'), 'secret.sha256');
  if (sha256 === undefined || !/^[0-9a-fA-F]{64}$/.test(sha256))
    throw invalidSignal('secret.sha256', 'must be the SHA-256 of the secret in 64 hex digits');
  const url = optionalString(own(secret, 'url'), 'secret.url');
  if (url !== undefined && url.length > LIMITS.type)
    throw invalidSignal('secret.url', 'must be at most 200 characters');
  return { 'secret.sha256': sha256.toLowerCase(), ...(url === undefined ? {} : { 'secret.url': url }) };
}

function tagsOf(raw: unknown): string[] {
  const tags = optionalArray(raw, 'tags') ?? [];
  if (tags.length > LIMITS.tags) throw invalidSignal('tags', `must hold at most ${LIMITS.tags} tags`);
  tags.forEach((tag, i) => {
    const text = optionalString(tag, `tags[${i}]`);
    if (text === undefined || text.length > LIMITS.tag)
      throw invalidSignal(`tags[${i}]`, `must be a string of 1 to ${LIMITS.tag} characters`);
  });
  return shapeTags(tags);
}
