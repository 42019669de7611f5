/**
 * The one shape every SIEM alert is mapped to, and the small readers the five intake mappers share.
 *
 * The mappers are pure: no clock but the `now` they are given, no I/O. They read a payload that came
 * from `JSON.parse`, so everything is `unknown` until checked. Each reader looks at own properties only
 * (an inherited `toString` or a `__proto__` key is never taken for a field) and at most a few entries
 * of any array, so a hostile payload costs no more than a well-formed one.
 *
 * Errors: one code, INVALID_SIGNAL. The client-safe description names the field path and what was
 * expected (`invalid_signal: finding_info.uid is required`), and `metadata.field` carries the path; no
 * value from the payload is ever echoed, since alerts routinely carry tokens and personal data.
 */
import { AppError } from '../../errors.js';

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';

/** Ascending, so that `SEVERITIES.indexOf(a) >= SEVERITIES.indexOf(min)` reads "a is at least min". */
export const SEVERITIES: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

/** Who the alert is about, as the SIEM named them. Resolved against the directory later; may be empty. */
export interface SubjectHints {
  user_id?: string;
  email?: string;
  upn?: string;
  username?: string;
}

/** What every format is mapped to (before the source id and the capped raw payload are added by the caller). */
export interface CanonicalSignal {
  /** The SIEM's own id for the alert; with the source, the dedup key. 1..200 chars. */
  external_id: string;
  /** Rule id / analytic / search name, 1..200 chars; playbooks match on it. */
  type: string;
  /** Human title, at most 500 chars (longer ones are truncated). */
  title: string;
  severity: Severity;
  /** 0..1 */
  confidence: number;
  /** May be `{}` when the alert names no user: not an error, the signal is stored as unresolved. */
  subject: SubjectHints;
  /** RFC 3339 UTC with milliseconds, as `Date.prototype.toISOString` writes it. */
  observed_time: string;
  /** At most 32 tags of at most 100 chars, lowercased, deduplicated. */
  tags: string[];
  /**
   * What the SIEM said about the alert that is neither subject nor type, kept for people and for `explain`
   * (e.g. ECS `rule_id`, the Kibana rule's id, when `type` is its name). Strings of at most 200 chars; `{}`
   * for most formats. Every mapper sets it; optional for signals built in code (tests, fixtures).
   */
  attributes?: Record<string, string>;
}

export type IntakeFormat = 'canonical' | 'ocsf' | 'ecs' | 'splunk' | 'azure';

export const INTAKE_FORMATS: readonly IntakeFormat[] = ['canonical', 'ocsf', 'ecs', 'splunk', 'azure'];

export const LIMITS = { externalId: 200, type: 200, title: 500, tags: 32, tag: 100, hint: 320 } as const;

/**
 * The confidence a signal gets when its alert carries none, per format: stated here so that each guide
 * (docs/siem/<format>.md) can say it, and a playbook's `min_confidence` above it is known never to match
 * an alert that says nothing.
 */
export const DEFAULT_CONFIDENCE: Readonly<Record<IntakeFormat, number>> = {
  canonical: 0.5,
  ocsf: 0.5,
  ecs: 0.5,
  splunk: 0.5,
  azure: 0.5,
};

/** How many entries of a SIEM-supplied array (evidences, dimensions, result rows…) a mapper looks at. */
export const SCAN_LIMIT = 8;

// ---------------------------------------------------------------------------------------------- errors

/** INVALID_SIGNAL naming the field and the problem, e.g. `invalidSignal('finding_info.uid', 'is required')`. */
export function invalidSignal(field: string, problem: string): AppError {
  const reason = `${field} ${problem}`;
  return new AppError('INVALID_SIGNAL', {
    description: `invalid_signal: ${reason}`,
    detail: reason,
    metadata: { field },
  });
}

/** A resolve/close notification: the same code, a message that says why it is refused. */
export function resolvedSignal(field: string, state: string): AppError {
  return new AppError('INVALID_SIGNAL', {
    description: `invalid_signal: resolved or closed alerts are not accepted (${field} is ${state})`,
    detail: `resolve notification: ${field} is ${state}`,
    metadata: { field, reason: 'resolved' },
  });
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function wrongType(field: string, expected: string, value: unknown): AppError {
  return invalidSignal(field, `must be ${expected}, not ${typeName(value)}`);
}

// ---------------------------------------------------------------------------------------------- reading

export type JsonObject = Record<string, unknown>;

/** A plain object as `JSON.parse` makes it; arrays, class instances and boxed values are not. */
export function isRecord(value: unknown): value is JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** An own property; JSON `null` counts as absent, as every format here uses it that way. */
export function own(object: JsonObject | undefined, key: string): unknown {
  if (object === undefined || !Object.hasOwn(object, key)) return undefined;
  const value = object[key];
  return value === null ? undefined : value;
}

/** The payload itself: it must be an object. */
export function requireRoot(payload: unknown): JsonObject {
  if (!isRecord(payload)) throw wrongType('(body)', 'a JSON object', payload);
  return payload;
}

export function optionalRecord(value: unknown, field: string): JsonObject | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) throw wrongType(field, 'an object', value);
  return value;
}

export function optionalArray(value: unknown, field: string): readonly unknown[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw wrongType(field, 'an array', value);
  return value as readonly unknown[];
}

/** A string, trimmed; an empty one counts as absent. */
export function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw wrongType(field, 'a string', value);
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** A finite number, or a decimal string (Splunk sends every result value as a string). */
export function optionalNumber(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  throw wrongType(field, 'a number', value);
}

export function optionalInteger(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw wrongType(field, 'an integer', value);
  return value;
}

/** An id or a type: a non-empty string of at most `max` chars. Too long is an error, not a truncation,
 * since a cut id would merge distinct alerts. */
export function requireText(value: unknown, field: string, max: number): string {
  const text = optionalString(value, field);
  if (text === undefined) throw invalidSignal(field, 'is required');
  if (text.length > max) throw invalidSignal(field, `must be at most ${max} characters`);
  return text;
}

/** The first of several candidate fields that holds a string; with `max`, that string must fit. */
export function firstString(
  candidates: ReadonlyArray<readonly [value: unknown, field: string]>,
  max?: number,
): string | undefined {
  for (const [value, field] of candidates) {
    const text = optionalString(value, field);
    if (text === undefined) continue;
    if (max !== undefined && text.length > max) throw invalidSignal(field, `must be at most ${max} characters`);
    return text;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------- shaping

/** Cuts to `max` UTF-16 units without leaving half a surrogate pair behind. */
export function clampText(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

/** A display title: whitespace runs (newlines from rule descriptions) become one space, then the cap. */
export function shapeTitle(title: string | undefined, fallback: string): string {
  const flat = (title ?? '').replace(/\s+/g, ' ').trim();
  return clampText(flat === '' ? fallback : flat, LIMITS.title);
}

/** Lowercased, trimmed, capped at 100 chars, deduplicated, at most 32; non-strings are skipped. */
export function shapeTags(candidates: readonly unknown[]): string[] {
  const tags = new Set<string>();
  for (const candidate of candidates) {
    if (tags.size >= LIMITS.tags) break;
    if (typeof candidate !== 'string') continue;
    const tag = clampText(candidate.toLowerCase().trim(), LIMITS.tag).trim();
    if (tag !== '') tags.add(tag);
  }
  return [...tags];
}

/** The first `SCAN_LIMIT` entries of an array that may be huge. */
export function head<T>(items: readonly T[] | undefined, limit = SCAN_LIMIT): T[] {
  if (items === undefined) return [];
  const out: T[] = [];
  for (let i = 0; i < items.length && i < limit; i++) out.push(items[i] as T);
  return out;
}

// ---------------------------------------------------------------------------------------------- subject

// Deliberately simple, like directory/validate.ts: one @, no spaces, a dot in the domain.
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}\.[^\s@]{1,63}$/;

export function looksLikeEmail(value: string): boolean {
  return EMAIL.test(value);
}

/** A subject hint is a string of 1..320 chars; anything else is dropped, never an error. */
function hintText(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  return text !== '' && text.length <= LIMITS.hint ? text : undefined;
}

/**
 * Collects subject hints, first value per slot wins. The `from*` methods say what kind of field a
 * value came from, which decides its slot: an email field only ever fills `email`, a UPN-ish or
 * user-name field fills `upn` when the value is `name@domain` and `username` otherwise.
 */
export class SubjectCollector {
  private readonly hints: SubjectHints = {};

  fromUserId(value: unknown): this {
    return this.set('user_id', hintText(value));
  }

  fromEmail(value: unknown): this {
    const text = hintText(value);
    return this.set('email', text !== undefined && looksLikeEmail(text) ? text : undefined);
  }

  /** A UPN field, or a user-name field whose values are often UPNs (ECS user.name, CIM user). */
  fromName(value: unknown): this {
    const text = hintText(value);
    if (text === undefined) return this;
    return looksLikeEmail(text) ? this.set('upn', text) : this.set('username', text);
  }

  get empty(): boolean {
    return Object.keys(this.hints).length === 0;
  }

  result(): SubjectHints {
    return { ...this.hints };
  }

  private set(slot: keyof SubjectHints, text: string | undefined): this {
    if (text !== undefined && this.hints[slot] === undefined) this.hints[slot] = text;
    return this;
  }
}

// ---------------------------------------------------------------------------------------------- time

const MAX_EPOCH_MS = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z, the last instant toISOString writes in 4 digits
// RFC 3339 §5.6 date-time, with the offset required: a zone-less time would depend on the server's TZ.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:?\d{2})$/;

export function timeFromEpochMs(ms: number, field: string): string {
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_EPOCH_MS)
    throw invalidSignal(field, 'must be a time between 1970 and 9999');
  return new Date(Math.floor(ms)).toISOString();
}

export function timeFromRfc3339(text: string, field: string): string {
  const ms = RFC3339.test(text) ? Date.parse(text.toUpperCase()) : Number.NaN;
  if (Number.isNaN(ms)) throw invalidSignal(field, 'must be an RFC 3339 date-time with a time zone');
  return timeFromEpochMs(ms, field);
}
