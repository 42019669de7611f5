/**
 * Signal intake counted per call, on the node that answers it: counted here rather than from audit
 * entries because a caller that fails its source's signature or URL token leaves no entry in the
 * account's log (anonymous-callers.ts tallies it into the system log), and an entry does not say its
 * source's format. The labels are the source's format and authentication, never the source's id or
 * anything the caller sent.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../core.js';
import type { IntakeLabels } from '../metrics.js';
import { asAppError } from './error-mapping.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The registered source a signal intake call named, once found. */
    intakeSource?: IntakeLabels;
  }
}

type OnError = (request: FastifyRequest, reply: FastifyReply, error: unknown) => Promise<void>;

/** An intake route's hooks: `audited`'s refusal hook, then the count; `base` labels a call that names no source. */
export function intakeMetrics(core: Core) {
  const { metrics } = core;
  return {
    hooks(audited: { onError: OnError }, base: IntakeLabels) {
      return {
        onError: [
          audited.onError,
          async (request: FastifyRequest, _reply: FastifyReply, error: unknown) => {
            metrics.countSignalRefused(request.intakeSource ?? base, asAppError(error).code);
          },
        ],
      };
    },
    /** The call names this registered source: its refusals and its signal are counted under it. */
    source(request: FastifyRequest, source: { format: string; auth: string }): void {
      request.intakeSource = { format: source.format, auth: source.auth };
    },
    received(request: FastifyRequest, duplicate: boolean, base: IntakeLabels): void {
      metrics.countSignalReceived(request.intakeSource ?? base, duplicate);
    },
  };
}

/** POST /signals: canonical JSON from an app's token. */
export const APP_INTAKE: IntakeLabels = { format: 'canonical', auth: 'oauth' };
/** A source's endpoint before its source is found (none such, or disabled). */
export const UNKNOWN_SOURCE: IntakeLabels = { format: 'unknown', auth: 'unknown' };
