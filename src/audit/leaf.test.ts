import fc from 'fast-check';
import { expect, it } from 'vitest';
import { canonicalJson } from './jcs.js';
import { leafData, leafObject } from './leaf.js';

const json = fc
  .jsonValue({ maxDepth: 3 })
  .map((v) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v : { v })) as fc.Arbitrary<
  Record<string, unknown>
>;
const text = fc.string({ unit: 'grapheme', maxLength: 30 });

it('writes the leaf exactly as RFC 8785 would canonicalise the whole entry', () => {
  fc.assert(
    fc.property(
      fc.record({
        account_id: text,
        idx: fc.nat(),
        recorded_at: text,
        actor_type: text,
        actor_id: text,
        action: text,
        target_type: text,
        target_id: text,
        cause: json,
        authz: json,
        outcome: fc.constantFrom('changed', 'unchanged', 'refused', 'read'),
        details: json,
      }),
      (entry) => {
        const e = entry;
        expect(leafData(e)).toBe(canonicalJson(leafObject(e)));
      },
    ),
    { numRuns: 500 },
  );
});
