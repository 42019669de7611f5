import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors.js';
import { type CanonicalSignal, type IntakeFormat, INTAKE_FORMATS, LIMITS, mapSignal, SEVERITIES } from './index.js';
import { looksLikeEmail, SCAN_LIMIT } from './signal.js';
import { INTAKE_NOW, signalSamples } from '../../../test/support/signal-samples.js';

const NOW = INTAKE_NOW;
const samples = signalSamples;

/** Every promise CanonicalSignal makes, checked on one value. */
function expectCanonical(signal: CanonicalSignal): void {
  expect(Object.keys(signal).sort()).toEqual([
    'attributes',
    'confidence',
    'external_id',
    'observed_time',
    'severity',
    'subject',
    'tags',
    'title',
    'type',
  ]);
  for (const [text, max] of [
    [signal.external_id, LIMITS.externalId],
    [signal.type, LIMITS.type],
    [signal.title, LIMITS.title],
  ] as const) {
    expect(typeof text).toBe('string');
    expect(text.length).toBeGreaterThanOrEqual(1);
    expect(text.length).toBeLessThanOrEqual(max);
  }
  expect(SEVERITIES).toContain(signal.severity);
  expect(Number.isFinite(signal.confidence) && signal.confidence >= 0 && signal.confidence <= 1).toBe(true);
  expect(Object.getPrototypeOf(signal.subject)).toBe(Object.prototype);
  for (const [slot, value] of Object.entries(signal.subject)) {
    expect(['user_id', 'email', 'upn', 'username']).toContain(slot);
    expect(typeof value === 'string' && value.length >= 1 && value.length <= LIMITS.hint).toBe(true);
    if (slot === 'email' || slot === 'upn') expect(looksLikeEmail(value as string)).toBe(true);
  }
  expect(Object.getPrototypeOf(signal.attributes)).toBe(Object.prototype);
  for (const value of Object.values(signal.attributes ?? {}))
    expect(typeof value === 'string' && value.length >= 1 && value.length <= LIMITS.type).toBe(true);
  expect(signal.observed_time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  expect(new Date(signal.observed_time).toISOString()).toBe(signal.observed_time);
  expect(Array.isArray(signal.tags) && signal.tags.length <= LIMITS.tags).toBe(true);
  expect(new Set(signal.tags).size).toBe(signal.tags.length);
  for (const tag of signal.tags) {
    expect(typeof tag === 'string' && tag.length >= 1 && tag.length <= LIMITS.tag).toBe(true);
    expect(tag).toBe(tag.toLowerCase());
  }
}

/** Either a signal that keeps every promise, or INVALID_SIGNAL: never a TypeError, never another code. */
function expectSignalOrInvalid(format: IntakeFormat, payload: unknown): void {
  let signal: CanonicalSignal;
  try {
    signal = mapSignal(format, payload, NOW);
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    expect(error.code).toBe('INVALID_SIGNAL');
    expect(error.metadata?.field).toBeTruthy();
    return;
  }
  expectCanonical(signal);
}

/** Frozen all the way down, so that a mapper writing into the payload fails loudly. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key]);
  }
  return value;
}

/** Paths to every node of a fixture (objects and arrays included), the root as []. */
function pathsOf(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out = [prefix];
  if (typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value))
      out.push(...pathsOf(child, [...prefix, Array.isArray(value) ? Number(key) : key]));
  }
  return out;
}

/** Writes like JSON.parse does: an own property, even for "__proto__". */
function setAt(root: unknown, at: Array<string | number>, change: { remove: true } | { value: unknown }): unknown {
  if (at.length === 0) return 'remove' in change ? undefined : change.value;
  let parent = root as Record<string, unknown>;
  for (const key of at.slice(0, -1)) parent = parent[key] as Record<string, unknown>;
  const last = String(at[at.length - 1]);
  if ('remove' in change) delete parent[last];
  else
    Object.defineProperty(parent, last, { value: change.value, enumerable: true, writable: true, configurable: true });
  return root;
}

/** Values that have broken parsers before: wrong types, boundaries, lookalikes, objects that are not plain. */
const TRICKY: readonly unknown[] = [
  null,
  '',
  '   ',
  'x'.repeat(10_000),
  'a@b.co',
  'closed',
  'Resolved',
  'recovered',
  'Sev0',
  'critical',
  -1,
  0,
  3,
  99,
  101,
  2004,
  1e300,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  1741939200123,
  '1741939200.5',
  '2025-02-30T25:61:00Z',
  '0001-01-01T00:00:00Z',
  [],
  [null],
  ['only'],
  [[]],
  {},
  Object.create(null),
  { __proto__: { user: 'inherited@example.com' } },
  true,
  10n,
  new Date(0),
  Object('boxed'),
];
const tricky = fc.constantFrom<unknown>(...TRICKY);
const anyValue = fc.oneof(
  tricky,
  fc.anything({
    withNullPrototype: true,
    withBoxedValues: true,
    withMap: true,
    withSet: true,
    withDate: true,
    withSparseArray: true,
    withBigInt: true,
    withObjectString: true,
  }),
);

describe('intake mappers: any input gives a valid signal or INVALID_SIGNAL', () => {
  // Exhaustive where random sampling is thin: each node of each fixture, removed or swapped for each awkward value.
  it.each(samples.map((s) => [s.name, s] as const))(
    '%s: every field removed or replaced by each awkward value',
    (_name, sample) => {
      for (const at of pathsOf(sample.payload)) {
        expectSignalOrInvalid(sample.format, deepFreeze(setAt(structuredClone(sample.payload), at, { remove: true })));
        for (const value of TRICKY)
          expectSignalOrInvalid(sample.format, deepFreeze(setAt(structuredClone(sample.payload), at, { value })));
      }
    },
  );

  it.each(INTAKE_FORMATS)('%s: arbitrary values', (format) => {
    fc.assert(
      fc.property(anyValue, (payload) => expectSignalOrInvalid(format, deepFreeze(payload))),
      { numRuns: 300 },
    );
  });

  it.each(samples.map((s) => [s.name, s] as const))('%s: mutated fields, added keys and removals', (_name, sample) => {
    const paths = pathsOf(sample.payload);
    const objectPaths = paths.filter((at) => {
      let node: unknown = sample.payload;
      for (const key of at) node = (node as Record<string, unknown>)[key];
      return typeof node === 'object' && node !== null && !Array.isArray(node);
    });
    const mutation = fc.oneof(
      fc.record({ at: fc.constantFrom(...paths), remove: fc.constant(true as const) }),
      fc.record({ at: fc.constantFrom(...paths), value: anyValue }),
      fc.record({
        at: fc
          .tuple(
            fc.constantFrom(...objectPaths),
            fc.constantFrom(
              '__proto__',
              'constructor',
              'toString',
              'kibana.alert',
              'kibana.alert.rule',
              'user',
              'alerts',
              'context',
            ),
          )
          .map(([at, key]) => [...at, key]),
        value: anyValue,
      }),
    );
    fc.assert(
      fc.property(
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        fc.constantFrom(...INTAKE_FORMATS, sample.format, sample.format),
        (mutations, format) => {
          let payload: unknown = structuredClone(sample.payload);
          for (const m of mutations) {
            if (payload === undefined || typeof payload !== 'object' || payload === null) break;
            // A path may have been removed or replaced by an earlier mutation: skip it then.
            let parent: unknown = payload;
            for (const key of m.at.slice(0, -1))
              parent =
                typeof parent === 'object' && parent !== null ? (parent as Record<string, unknown>)[key] : undefined;
            if (m.at.length > 0 && (typeof parent !== 'object' || parent === null || Object.isFrozen(parent))) continue;
            payload = setAt(payload, m.at, 'remove' in m ? { remove: true } : { value: m.value });
          }
          expectSignalOrInvalid(format, deepFreeze(payload));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('intake mappers: hostile structure', () => {
  it('never takes an inherited or __proto__ value for a field, and pollutes nothing', () => {
    const splunk = JSON.parse(
      '{"sid":"s-1","result":{"__proto__":{"user":"mallory@example.com","severity":"critical"}}}',
    );
    expect(mapSignal('splunk', splunk, NOW)).toMatchObject({ subject: {}, severity: 'medium' });
    const ecs = JSON.parse(
      '{"kibana.alert.uuid":"a","kibana.alert.rule.rule_id":"r",' +
        '"user":{"__proto__":{"name":"mallory"}},"constructor":{"name":"x"}}',
    );
    expect(mapSignal('ecs', ecs, NOW).subject).toEqual({});
    const azure = samples.find((s) => s.name === 'azure-common-log-alert.json')!.payload;
    const polluted = JSON.parse(
      JSON.stringify(azure).replace(
        '"customProperties":null',
        '"customProperties":{"__proto__":{"user_upn":"mallory@example.com"},"toString":"x"}',
      ),
    );
    expect(mapSignal('azure', polluted, NOW).subject).toEqual({
      user_id: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
      upn: 'alan.turing@example.com',
    });
    // A payload whose prototype was swapped (Object.assign with a "__proto__" key) is not a plain object.
    const swapped = Object.assign({}, { sid: 's-1' });
    Object.setPrototypeOf(swapped, { result: { user: 'mallory' } });
    expect(() => mapSignal('splunk', swapped, NOW)).toThrow(AppError);
    expect(({} as Record<string, unknown>).user).toBeUndefined();
    expect(({} as Record<string, unknown>).user_upn).toBeUndefined();
  });

  it('looks at only the first few entries of huge arrays', () => {
    let reads = 0;
    const huge = <T>(length: number, fill: T, last: T): T[] =>
      new Proxy(Object.assign(new Array<T>(length).fill(fill), { [length - 1]: last }), {
        get(target, key, receiver) {
          if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
          return Reflect.get(target, key, receiver);
        },
      });
    const user = { user: { name: 'hidden@example.com' } };
    const ocsf = {
      ...(samples.find((s) => s.name === 'ocsf-2004-no-user.json')!.payload as object),
      evidences: huge<object>(1_000_000, {}, user),
      resources: huge<object>(1_000_000, {}, { type: 'User', name: 'x' }),
    };
    expect(mapSignal('ocsf', ocsf, NOW).subject).toEqual({});
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a vendor payload, edited in place at any depth
    const azure = structuredClone(samples.find((s) => s.name === 'azure-common-log-alert.json')!.payload) as any;
    azure.data.alertContext.condition.allOf = huge<object>(
      1_000_000,
      { dimensions: huge(1_000_000, { name: 'Computer', value: 'x' }, { name: 'UserId', value: 'u' }) },
      {},
    );
    expect(mapSignal('azure', azure, NOW).subject).toEqual({});
    const splunk = { sid: 's', result: { tags: huge(1_000_000, 'a', 'b') } };
    expect(mapSignal('splunk', splunk, NOW).tags).toEqual(['a']);
    expect(reads).toBeLessThanOrEqual(SCAN_LIMIT * 4 + SCAN_LIMIT * SCAN_LIMIT + LIMITS.tags + 8);
  });
});
