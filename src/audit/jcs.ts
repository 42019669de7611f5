/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): one byte string per JSON value, so that an audit
 * event hashes to the same Merkle leaf wherever it is re-serialised.
 *
 * JCS is defined in terms of ECMAScript's own JSON.stringify (RFC 8785 §3.2.2): literals as is,
 * strings with JSON.stringify's escaping, numbers by Number.prototype.toString, and object members
 * sorted by the UTF-16 code units of their names (§3.2.3). What JSON.stringify would silently drop or
 * coerce is refused here instead, because a silently changed event is worse than a loud error:
 *
 * - `undefined`, functions, symbols, bigint, NaN and ±Infinity (RFC 8785 §3.2.2.3 forbids NaN/Infinity);
 * - strings or member names with lone surrogates (JCS requires I-JSON, RFC 7493 §2.1);
 * - anything but plain objects and arrays: `Date` (convert to an ISO 8601 string first), `Map`, `Buffer`,
 *   class instances, whose JSON form (via `toJSON`) would depend on code, not data;
 * - sparse arrays, symbol-keyed members and cycles.
 */

/** A value `canonicalJson` refuses; `path` is a JSON Pointer (RFC 6901) to the offending value. */
export class CanonicalJsonError extends TypeError {
  readonly path: string;

  constructor(path: string, message: string) {
    super(`cannot canonicalise ${path === '' ? 'the value' : path}: ${message}`);
    this.name = 'CanonicalJsonError';
    this.path = path;
  }
}

/** The RFC 8785 canonical JSON text of `value`. Hash it as UTF-8. */
export function canonicalJson(value: unknown): string {
  return serialise(value, ROOT, new Set());
}

/**
 * Where a value sits, as a chain built for free while walking; it becomes a JSON Pointer only when an
 * error needs one (building a string per member made leaf hashing twice as slow).
 */
interface Where {
  parent: Where | undefined;
  key: string;
}
const ROOT: Where = { parent: undefined, key: '' };
const below = (parent: Where, key: string | number): Where => ({ parent, key: String(key) });

function pointer(where: Where): string {
  const keys: string[] = [];
  for (let at: Where | undefined = where; at?.parent; at = at.parent)
    keys.unshift(at.key.replace(/~/g, '~0').replace(/\//g, '~1'));
  return keys.map((k) => `/${k}`).join('');
}

function fail(where: Where, message: string): never {
  throw new CanonicalJsonError(pointer(where), message);
}

function serialise(value: unknown, path: Where, ancestors: Set<object>): string {
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) fail(path, `${value} is not a JSON number`);
      return String(value); // Number::toString, which also turns -0 into "0" (RFC 8785 §3.2.2.3)
    case 'string':
      return serialiseString(value, path);
    case 'object':
      if (value === null) return 'null';
      if (ancestors.has(value)) fail(path, 'cyclic reference');
      ancestors.add(value);
      {
        const text = Array.isArray(value)
          ? serialiseArray(value, path, ancestors)
          : serialiseObject(value, path, ancestors);
        ancestors.delete(value);
        return text;
      }
    default:
      fail(path, `${typeof value} is not a JSON type`);
  }
}

function serialiseString(text: string, path: Where): string {
  if (!(text as string & { isWellFormed(): boolean }).isWellFormed()) fail(path, 'lone surrogate in a string');
  return JSON.stringify(text);
}

function serialiseArray(array: readonly unknown[], path: Where, ancestors: Set<object>): string {
  let out = '[';
  for (let i = 0; i < array.length; i++) {
    if (!(i in array)) fail(below(path, i), 'sparse array');
    out += (i === 0 ? '' : ',') + serialise(array[i], below(path, i), ancestors);
  }
  return out + ']';
}

function serialiseObject(object: object, path: Where, ancestors: Set<object>): string {
  const proto = Object.getPrototypeOf(object) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    const kind = (object as { constructor?: { name?: string } }).constructor?.name ?? 'object';
    fail(path, `only plain objects and arrays are allowed, not ${kind}`);
  }
  if (Object.getOwnPropertySymbols(object).length > 0) fail(path, 'symbol-keyed member');
  // Array.prototype.sort without a comparator orders strings by UTF-16 code units (RFC 8785 §3.2.3).
  const names = Object.keys(object).sort();
  const record = object as Record<string, unknown>;
  let out = '{';
  for (let i = 0; i < names.length; i++) {
    const memberPath = below(path, names[i]!);
    out +=
      `${i === 0 ? '' : ','}${serialiseString(names[i]!, memberPath)}:` +
      `${serialise(record[names[i]!], memberPath, ancestors)}`;
  }
  return out + '}';
}
