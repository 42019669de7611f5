/**
 * Signals and detection sources as the API shows them: a received signal with its plan, a signal read
 * back, a source (never its secret or token hash).
 */
import { Type, type Static } from 'typebox';
import type { Reception } from '../../response/engine.js';
import { DEFAULT_CONFIDENCE } from '../../response/intake/signal.js';
import type { SignalRow, SignalSource } from '../../store/signals.js';
import { NormalisedSignalSchema, PlanSchema, planView } from './plans.js';

/** A signal as stored: the normalised signal (as a dry run shows it), with its id and when it arrived. */
export const SignalSchema = Type.Object(
  {
    id: Type.String(),
    ...NormalisedSignalSchema.properties,
    receive_time: Type.String({ format: 'date-time' }),
    raw_truncated: Type.Boolean(),
  },
  { title: 'Signal' },
);

export function signalView(signal: SignalRow): Static<typeof SignalSchema> {
  return {
    id: signal.id,
    source_id: signal.source_id,
    external_id: signal.external_id,
    type: signal.type,
    title: signal.title,
    severity: signal.severity,
    confidence: signal.confidence,
    subject: signal.subject,
    tags: signal.tags,
    observed_time: new Date(signal.observed_at).toISOString(),
    receive_time: new Date(signal.received_at).toISOString(),
    raw_truncated: signal.raw_truncated,
    attributes: signal.attributes,
  };
}

export const ReceptionSchema = Type.Object(
  {
    signal: SignalSchema,
    plan: Type.Union([PlanSchema, Type.Null()]),
    duplicate: Type.Boolean({ description: 'this source already sent this external id: nothing new was done' }),
  },
  { title: 'SignalReception' },
);

export const SourceSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    format: Type.String(),
    auth: Type.String(),
    client_id: Type.Union([Type.String(), Type.Null()]),
    default_confidence: Type.Number({
      description: "the confidence of this source's alerts that carry none: its own setting, else its format's",
    }),
    url: Type.String({
      description:
        "where the SIEM posts: the public URL (CORDON_ISSUER) + the source's path; a url_token source adds ?token=",
    }),
    create_time: Type.String({ format: 'date-time' }),
    disable_time: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { title: 'SignalSource' },
);

/** A signal with the plan it got (or, for a duplicate, the first copy's). */
export function receptionView(
  reception: Pick<Reception, 'signal' | 'plan' | 'duplicate'>,
): Static<typeof ReceptionSchema> {
  return {
    signal: signalView(reception.signal),
    plan: reception.plan ? planView(reception.plan) : null,
    duplicate: reception.duplicate,
  };
}

/** A source's intake URL on the public base `issuer` (no token: that is answered once, at creation). */
export const sourceUrl = (issuer: string, source: Pick<SignalSource, 'account_id' | 'id'>): string =>
  `${issuer}/v1/accounts/${encodeURIComponent(source.account_id)}/sources/${encodeURIComponent(source.id)}/signals`;

/** A source as the API shows it: never its HMAC secret or URL token. */
export function sourceView(source: SignalSource, issuer: string): Static<typeof SourceSchema> {
  return {
    id: source.id,
    name: source.name,
    format: source.format,
    auth: source.auth,
    client_id: source.client_id,
    default_confidence: source.default_confidence ?? DEFAULT_CONFIDENCE[source.format],
    url: sourceUrl(issuer, source),
    create_time: new Date(source.created_at).toISOString(),
    disable_time: source.disabled_at === null ? null : new Date(source.disabled_at).toISOString(),
  };
}
