import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIDENCE, mapSignal } from './index.js';
import { INTAKE_NOW, signalSamples } from '../../../test/support/signal-samples.js';

const NOW = INTAKE_NOW;
const samples = signalSamples;

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
