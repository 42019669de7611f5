import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIDENCE, type IntakeFormat, mapSignal } from './index.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../../test/fixtures/signals');
const NOW = new Date('2025-03-14T09:26:53.000Z');
const samples = readdirSync(FIXTURES)
  .filter((name) => name.endsWith('.json') && !name.endsWith('.expected.json'))
  .map((name) => ({
    name,
    format: name.split('-')[0] as IntakeFormat,
    payload: JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) as unknown,
  }));

describe("a source's default confidence", () => {
  it('has samples that state a confidence and samples that do not', () => {
    const stated = samples.filter((s) => mapSignal(s.format, s.payload, NOW, 0.123).confidence !== 0.123);
    expect(stated.length).toBeGreaterThan(0);
    expect(stated.length).toBeLessThan(samples.length);
  });

  it.each(samples.map((s) => [s.name, s] as const))(
    '%s: takes the given default exactly when the alert states none, and nothing else changes',
    (_name, { format, payload }) => {
      const plain = mapSignal(format, payload, NOW);
      // No sample states exactly its format's default, so a default-valued confidence means "none stated".
      const statesNone = plain.confidence === DEFAULT_CONFIDENCE[format];
      fc.assert(
        fc.property(fc.double({ min: 0, max: 1, noNaN: true }), (given) => {
          const signal = mapSignal(format, payload, NOW, given);
          expect(signal).toEqual({ ...plain, confidence: statesNone ? given : plain.confidence });
        }),
        { numRuns: 20 },
      );
    },
  );
});
