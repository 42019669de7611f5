/**
 * The SIEM guides (docs/siem/<format>.md) cannot drift from the mappers: each guide names its sample alert
 * (a fixture), shows it, and tabulates what it becomes; this maps the fixture through the real normaliser and
 * compares every row of the table, the shown sample and the stated default confidence.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type IntakeFormat, INTAKE_FORMATS, mapSignal } from './index.js';
import { DEFAULT_CONFIDENCE } from './signal.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
// The observed time of a sample without one; the guides' samples all carry their own.
const NOW = new Date('2025-03-14T09:26:53.000Z');
/** The fields the issue asks every guide to map; the table may show more. */
const REQUIRED_ROWS = ['subject', 'type', 'severity', 'confidence', 'external_id'];

interface Guide {
  text: string;
  fixture: string;
  rows: Map<string, unknown>;
}

function readGuide(format: IntakeFormat): Guide {
  const text = readFileSync(path.join(ROOT, 'docs/siem', `${format}.md`), 'utf8');
  const fixture = /Sample alert: `(test\/fixtures\/signals\/[a-z0-9-]+\.json)`/.exec(text)?.[1];
  if (fixture === undefined) throw new Error(`docs/siem/${format}.md names no sample fixture`);
  // The mapping table: rows `| \`field\` | where from | \`value in the sample\` |`, the value as JSON.
  const rows = new Map<string, unknown>();
  for (const line of text.split('\n')) {
    const cells = /^\|\s*`([a-z_]+)`\s*\|.*\|\s*`([^`]+)`\s*\|$/.exec(line);
    if (cells) rows.set(cells[1]!, JSON.parse(cells[2]!));
  }
  return { text, fixture, rows };
}

describe('SIEM guides', () => {
  it.each(INTAKE_FORMATS)('docs/siem/%s.md: its table is what its sample alert maps to', (format) => {
    const guide = readGuide(format);
    const payload = JSON.parse(readFileSync(path.join(ROOT, guide.fixture), 'utf8')) as unknown;
    const signal = mapSignal(format, payload, NOW) as unknown as Record<string, unknown>;
    expect([...guide.rows.keys()]).toEqual(expect.arrayContaining(REQUIRED_ROWS));
    for (const [field, value] of guide.rows) expect({ [field]: signal[field] }).toEqual({ [field]: value });
  });

  it.each(INTAKE_FORMATS)('docs/siem/%s.md shows its sample alert as the fixture holds it', (format) => {
    const guide = readGuide(format);
    const block = /Sample alert: `[^`]+`[^\n]*\n\n```json\n([\s\S]*?)\n```/.exec(guide.text)?.[1];
    expect(block, 'a ```json block right after the "Sample alert:" line').toBeDefined();
    expect(JSON.parse(block!)).toEqual(JSON.parse(readFileSync(path.join(ROOT, guide.fixture), 'utf8')));
  });

  it.each(INTAKE_FORMATS)('docs/siem/%s.md states the default confidence the mapper uses', (format) => {
    const stated = /Default confidence: `([0-9.]+)`/.exec(readGuide(format).text)?.[1];
    expect(Number(stated)).toBe(DEFAULT_CONFIDENCE[format]);
  });
});
