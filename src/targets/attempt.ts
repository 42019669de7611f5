/**
 * One attempt of a remote step, against its target's connector: resolve the identity when the step has
 * no external id yet, act, and read the state back (unless the kind is not verifiable: gtr's 204 is the
 * proof). A reactivation reads first, so that drift is seen: already active (someone reactivated the
 * identity on the target during the containment) or gone (deleted). The target's answer maps to what the
 * step becomes, never guessed (connector.ts has the table):
 *
 * protected → protected (not retried) · gone → gone · fatal → failed · auth, retry → tried again later,
 * with exponential backoff and jitter, never before the target's Retry-After.
 */
import type { StepStatus } from '../storage/schema.js';
import type { ClaimedStep } from '../store/steps.js';
import { collectCalls } from './http.js';
import {
  isTargetError,
  type CallRecord,
  type Connector,
  type SubjectHints,
  type TargetErrorDetails,
} from './connector.js';

export type AttemptOutcome = 'verified' | 'retry' | 'protected' | 'gone' | 'failed';

export interface AttemptResult {
  outcome: AttemptOutcome;
  /** The step's status after this attempt (pending for a retry). */
  status: StepStatus;
  external_id: string | null;
  observed_state: string | null;
  drift: Record<string, unknown> | null;
  error: (Omit<TargetErrorDetails, 'class'> & { class: string }) | null;
  /** Milliseconds the target asked to wait (Retry-After). */
  retryAfterMs: number | undefined;
  calls: CallRecord[];
  latency_ms: number;
}

/** Backoff before attempt n + 1 after n failed ones: 0.5 s doubling to 60 s, with jitter (half to all of it). */
export function retryDelayMs(attempts: number, retryAfterMs: number | undefined, random = Math.random): number {
  const base = Math.min(500 * 2 ** Math.max(0, attempts - 1), 60_000);
  const jittered = base / 2 + (random() * base) / 2;
  return Math.max(jittered, retryAfterMs ?? 0);
}

const FINAL: Record<string, { outcome: AttemptOutcome; status: StepStatus }> = {
  protected: { outcome: 'protected', status: 'protected' },
  gone: { outcome: 'gone', status: 'gone' },
  fatal: { outcome: 'failed', status: 'failed' },
};

/** Runs the attempt; never throws (an unexpected error is an attempt to retry). */
export function runAttempt(connector: Connector, step: ClaimedStep): Promise<AttemptResult> {
  const calls: CallRecord[] = [];
  return collectCalls(calls, () => attempt(connector, step, calls));
}

async function attempt(connector: Connector, step: ClaimedStep, calls: CallRecord[]): Promise<AttemptResult> {
  const started = performance.now();
  const subject = step.subject as { email?: string; user_name?: string; suspended?: boolean };
  let externalId = step.external_id;
  const result = (partial: Partial<AttemptResult> & Pick<AttemptResult, 'outcome' | 'status'>): AttemptResult => ({
    external_id: externalId,
    observed_state: null,
    drift: null,
    error: null,
    retryAfterMs: undefined,
    ...partial,
    calls: [...calls],
    latency_ms: Math.round(performance.now() - started),
  });
  try {
    if (externalId === null) {
      const hints: SubjectHints = { email: subject.email, user_name: subject.user_name };
      const found = await connector.resolve(hints);
      if (!found)
        return result({
          outcome: 'gone',
          status: 'gone',
          error: { class: 'gone', status: null, code: 'not_found', message: 'no identity matches', request_id: null },
        });
      externalId = found.external_id;
    }
    if (step.operation === 'suspend') {
      await connector.suspend(externalId);
      if (!connector.verifiable) return result({ outcome: 'verified', status: 'verified' });
      return await verifyState(connector, externalId, 'SUSPENDED', result);
    }
    if (connector.verifiable) {
      const before = await connector.read(externalId);
      if (!before) return result({ outcome: 'gone', status: 'gone', drift: { deleted: true } });
      // Only a first attempt's read tells drift: a later one may see its own earlier, unrecorded reactivation.
      if (before.state === 'ACTIVE')
        return result({
          outcome: 'verified',
          status: 'verified',
          observed_state: 'ACTIVE',
          drift: subject.suspended && step.attempts === 1 ? { reactivated_elsewhere: true } : null,
        });
    }
    await connector.reactivate(externalId);
    if (!connector.verifiable) return result({ outcome: 'verified', status: 'verified' });
    return await verifyState(connector, externalId, 'ACTIVE', result);
  } catch (error) {
    if (!isTargetError(error))
      return result({
        outcome: 'retry',
        status: 'pending',
        error: { class: 'internal', status: null, code: null, message: String(error).slice(0, 500), request_id: null },
      });
    const final = FINAL[error.details.class];
    const gone = error.details.class === 'gone';
    return result({
      ...(final ?? { outcome: 'retry', status: 'pending' }),
      error: { ...error.details },
      retryAfterMs: error.retryAfterMs,
      drift: gone && step.operation === 'reactivate' ? { deleted: true } : null,
    });
  }
}

async function verifyState(
  connector: Connector,
  externalId: string,
  want: 'SUSPENDED' | 'ACTIVE',
  result: (partial: Partial<AttemptResult> & Pick<AttemptResult, 'outcome' | 'status'>) => AttemptResult,
): Promise<AttemptResult> {
  const after = await connector.read(externalId);
  if (!after) return result({ outcome: 'gone', status: 'gone', drift: want === 'ACTIVE' ? { deleted: true } : null });
  if (after.state === want) return result({ outcome: 'verified', status: 'verified', observed_state: after.state });
  return result({
    outcome: 'retry',
    status: 'pending',
    observed_state: after.state,
    error: {
      class: 'unverified',
      status: null,
      code: null,
      message: `read back ${after.state}, expected ${want}`,
      request_id: null,
    },
  });
}
