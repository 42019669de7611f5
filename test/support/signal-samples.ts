/** The sample alerts of test/fixtures/signals/ (`<format>-….json`, besides the `.expected.json` answers). */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { IntakeFormat } from '../../src/response/intake/index.js';

export const SIGNAL_FIXTURES = path.resolve(import.meta.dirname, '../fixtures/signals');

/** The time the mappers are given in the intake tests. */
export const INTAKE_NOW = new Date('2025-03-14T09:26:53.000Z');

export const signalSamples = readdirSync(SIGNAL_FIXTURES)
  .filter((name) => name.endsWith('.json') && !name.endsWith('.expected.json'))
  .map((name) => ({
    name,
    format: name.split('-')[0] as IntakeFormat,
    payload: JSON.parse(readFileSync(path.join(SIGNAL_FIXTURES, name), 'utf8')) as unknown,
  }));
