/**
 * The connector interface every target kind implements (one file per kind: onepassword.ts, scim.ts,
 * gtr.ts), and the one error type a connector throws, classified so that the step worker maps a
 * target's answer to what Cordon does, never guessing:
 *
 * | class     | from                                           | the worker                                 |
 * | --------- | ---------------------------------------------- | ------------------------------------------ |
 * | protected | 1Password 403 (`no_owner_remain`, EAM), a SCIM | records the step `protected`; no retry     |
 * |           | 403 refusing to deactivate                     |                                            |
 * | auth      | 401 after the connector already fetched a new  | retries with backoff (a rotated credential |
 * |           | token and retried once                         | may fix it), until the deadline            |
 * | gone      | 404 for the identity                           | resyncs, records the step `gone`           |
 * | retry     | 429, 5xx, timeouts, resets, refused connection | retries with backoff, honouring retryAfter |
 * | fatal     | any other 4xx (the request itself is wrong)    | records the step `failed`; no retry        |
 *
 * A connector holds no database handle: the caller gives it its (opened) credentials and config, and
 * it speaks HTTP only. Adding a kind is one new file implementing `Connector` and one line in kinds.ts.
 */
import type { IdentityState, TargetKind } from '../storage/schema.js';

/** What a signal's subject gives to find the identity on a target. */
export interface SubjectHints {
  email?: string | undefined;
  user_name?: string | undefined;
  /** The identity's id on this target, when the mirror or the signal knows it. */
  external_id?: string | undefined;
}

/** A user as a target holds it. */
export interface RemoteIdentity {
  external_id: string;
  email: string | null;
  user_name: string | null;
  display_name: string | null;
  state: IdentityState;
}

/** One page of a full walk of the target's users; `next` is undefined on the last page. */
export interface IdentityPage {
  identities: RemoteIdentity[];
  next: string | undefined;
}

/** What one HTTP exchange with a target looked like: for the attempt's audit entry. */
export interface CallRecord {
  method: string;
  /** The path and query, never the host's credentials (no secret is ever in a URL). */
  path: string;
  status: number | null;
  latency_ms: number;
  request_id: string | null;
}

export interface HealthReport {
  ok: boolean;
  latency_ms: number;
  /** The exact error the target gave, when not ok. */
  error?: TargetErrorDetails | undefined;
}

export interface Connector {
  readonly kind: TargetKind;
  /** The identity the hints name on the target, or null when there is none. */
  resolve(hints: SubjectHints): Promise<RemoteIdentity | null>;
  /** The identity's current state on the target; null when it is gone (404). */
  read(externalId: string): Promise<RemoteIdentity | null>;
  /** Suspends (deactivates) the identity; idempotent on the target. */
  suspend(externalId: string): Promise<void>;
  /** Reactivates it (SCIM: sets `active: true` and nothing else); idempotent on the target. */
  reactivate(externalId: string): Promise<void>;
  /** A page of every user, from `page` (undefined: the first). Kinds that cannot list throw fatal. */
  list(page: string | undefined): Promise<IdentityPage>;
  /** The connectivity check `cordon targets test` runs. */
  health(): Promise<HealthReport>;
  /** Whether `read` can verify a step; false for revocation-only kinds (gtr), where the call's answer is proof. */
  readonly verifiable: boolean;
  /** Releases what the connector holds (revokes its cached access token, when the target supports that). */
  close(): Promise<void>;
  /** The exchanges since the last call of takeCalls, oldest first (for the attempt's audit entry). */
  takeCalls(): CallRecord[];
}

export type TargetErrorClass = 'protected' | 'auth' | 'gone' | 'retry' | 'fatal';

export interface TargetErrorDetails {
  class: TargetErrorClass;
  /** HTTP status, or null when no answer came (timeout, reset, refused). */
  status: number | null;
  /** The target's own error code (1Password's gRPC `code` or `message` token, SCIM's `scimType`, a socket code). */
  code: string | null;
  /** The target's own message (SCIM `detail`, 1Password `message`), cut to 500 characters. */
  message: string;
  request_id: string | null;
}

export class TargetError extends Error {
  constructor(
    readonly details: TargetErrorDetails,
    /** Milliseconds the target asked to wait (Retry-After on 429 or 503). */
    readonly retryAfterMs?: number,
  ) {
    super(`${details.class}: ${details.status ?? details.code ?? 'no answer'} ${details.message}`);
    this.name = 'TargetError';
  }
}

export function isTargetError(error: unknown): error is TargetError {
  return error instanceof TargetError;
}

/** What a connector is made from: the target's config and opened credentials, and this build's version. */
export interface ConnectorOptions {
  config: Record<string, unknown>;
  credentials: Record<string, unknown>;
  /** `Cordon/<version>`, sent as User-Agent. */
  userAgent: string;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number | undefined;
}

/** A kind of target: how its settings are checked, and how a connector to one is made. */
export interface ConnectorKind {
  kind: TargetKind;
  /**
   * Checks what `targets add` gives: the config (kept in clear) and the credentials (sealed). Returns them
   * normalised (defaults filled, URLs without a trailing slash); throws AppError INVALID_ARGUMENT naming the
   * field.
   */
  validate(
    config: unknown,
    credentials: unknown,
  ): { config: Record<string, unknown>; credentials: Record<string, unknown> };
  create(options: ConnectorOptions): Connector;
}
