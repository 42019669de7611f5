/**
 * Signal intake: one pure mapper per alert format, each turning a parsed request body into the one
 * CanonicalSignal shape, or throwing AppError INVALID_SIGNAL and nothing else.
 */
import { mapAzure } from './azure.js';
import { mapCanonical } from './canonical.js';
import { mapEcs } from './ecs.js';
import { mapOcsf } from './ocsf.js';
import {
  type CanonicalSignal,
  DEFAULT_CONFIDENCE,
  type IntakeFormat,
  invalidSignal,
  INTAKE_FORMATS,
} from './signal.js';
import { mapSplunk } from './splunk.js';

export { DEFAULT_CONFIDENCE, INTAKE_FORMATS, LIMITS, SEVERITIES } from './signal.js';
export type { CanonicalSignal, IntakeFormat, Severity, SubjectHints } from './signal.js';

const MAPPERS: Record<IntakeFormat, (payload: unknown, now: Date, defaultConfidence: number) => CanonicalSignal> = {
  canonical: mapCanonical,
  ocsf: mapOcsf,
  ecs: mapEcs,
  splunk: mapSplunk,
  azure: mapAzure,
};

/**
 * Maps an alert in `format` to a CanonicalSignal. `now` stands in for the observed time when the
 * payload carries none; it must be a valid Date. `defaultConfidence` (0..1) is the confidence of an alert
 * that carries none: the source's own when it sets one, else the format's (DEFAULT_CONFIDENCE).
 */
export function mapSignal(
  format: IntakeFormat,
  payload: unknown,
  now = new Date(),
  defaultConfidence?: number,
): CanonicalSignal {
  // The format usually comes from a URL segment: check it at run time too.
  if (!INTAKE_FORMATS.includes(format)) throw invalidSignal('format', `must be one of ${INTAKE_FORMATS.join(', ')}`);
  return MAPPERS[format](payload, now, defaultConfidence ?? DEFAULT_CONFIDENCE[format]);
}
