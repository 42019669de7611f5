/**
 * One error type and the registry of codes.
 *
 * Each code fixes the gRPC status (google.rpc.Code), the HTTP status, and a client-safe description.
 * `AppError.detail` is for logs only and never reaches a client. Routes render an AppError in their
 * documented shape: google.rpc.Status for the Users API and Cordon's own API (the default), RFC 6749
 * bodies for OAuth routes (added by the OAuth issue).
 */

/** google.rpc.Code values (https://github.com/googleapis/googleapis/blob/master/google/rpc/code.proto). */
export const GrpcCode = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

interface CodeSpec {
  grpc: number;
  http: number;
  /** Client-safe message; the 1Password contract fixes some of them (e.g. `no_owner_remain`). */
  description: string;
}

export const ErrorCodes = {
  INVALID_ARGUMENT: { grpc: GrpcCode.INVALID_ARGUMENT, http: 400, description: 'invalid argument' },
  /** A SIEM alert that the intake mapper for its format cannot read; `metadata.field` names the field. */
  INVALID_SIGNAL: {
    grpc: GrpcCode.INVALID_ARGUMENT,
    http: 400,
    description: 'invalid_signal: the payload is not a valid signal for this format',
  },
  NOT_FOUND: { grpc: GrpcCode.NOT_FOUND, http: 404, description: 'not found' },
  USER_NOT_FOUND: { grpc: GrpcCode.NOT_FOUND, http: 404, description: 'user not found' },
  ACCOUNT_NOT_FOUND: { grpc: GrpcCode.NOT_FOUND, http: 404, description: 'account not found' },
  GROUP_NOT_FOUND: { grpc: GrpcCode.NOT_FOUND, http: 404, description: 'group not found' },
  ALREADY_EXISTS: { grpc: GrpcCode.ALREADY_EXISTS, http: 409, description: 'already exists' },
  EMAIL_TAKEN: { grpc: GrpcCode.ALREADY_EXISTS, http: 409, description: 'a user with this email already exists' },
  PERMISSION_DENIED: { grpc: GrpcCode.PERMISSION_DENIED, http: 403, description: 'permission denied' },
  /** The 1Password message for refusing to suspend the last remaining owner (reference/users-api-compat.md §4). */
  LAST_OWNER: { grpc: GrpcCode.PERMISSION_DENIED, http: 403, description: 'no_owner_remain' },
  EXTERNALLY_MANAGED: {
    grpc: GrpcCode.PERMISSION_DENIED,
    http: 403,
    description: 'externally_managed_user: the user is managed by an external identity provider',
  },
  /** An app's constraints (groups it may act on, roles it may never touch) exclude the user. */
  APP_CONSTRAINT: {
    grpc: GrpcCode.PERMISSION_DENIED,
    http: 403,
    description: "app_constraint: the app's constraints do not allow acting on this user",
  },
  /** An app's suspensions per hour are used up; `Retry-After` says when the next one is allowed. */
  SUSPENSION_CAP: {
    grpc: GrpcCode.RESOURCE_EXHAUSTED,
    http: 429,
    description: 'suspension_cap: the app reached its suspensions per hour',
  },
  UNAUTHENTICATED: { grpc: GrpcCode.UNAUTHENTICATED, http: 401, description: 'unauthenticated' },
  /** A valid app access token on a route only people use (approvals, restores, the dry run, administration). */
  SESSION_REQUIRED: {
    grpc: GrpcCode.PERMISSION_DENIED,
    http: 403,
    description:
      'session_required: only a person may do this: sign in (POST /v1/auth/sessions) and use the session token; an ' +
      "app's access token is not accepted here",
  },
  RATE_LIMITED: { grpc: GrpcCode.RESOURCE_EXHAUSTED, http: 429, description: 'rate limit exceeded' },
  /** One answer for every wrong credential, so that a guesser learns nothing about which was wrong. */
  SIGN_IN_FAILED: {
    grpc: GrpcCode.UNAUTHENTICATED,
    http: 401,
    description: 'sign-in failed: wrong email, password or code',
  },
  SIGN_IN_BACKOFF: {
    grpc: GrpcCode.RESOURCE_EXHAUSTED,
    http: 429,
    description: 'too many failed sign-ins for this user: wait before trying again',
  },
  USER_SUSPENDED: { grpc: GrpcCode.PERMISSION_DENIED, http: 403, description: 'the user is suspended' },
  /**
   * The session's user still has a generated password: only POST /v1/auth/password (and whoami, sign-out) until it is
   * changed.
   */
  PASSWORD_CHANGE_REQUIRED: {
    grpc: GrpcCode.PERMISSION_DENIED,
    http: 403,
    description:
      'password_change_required: change the generated password first (POST /v1/auth/password, or `cordon passwd`)',
  },
  /** A decision that needs a fresh authenticator code (step-up) got a wrong, stale or reused one. */
  STEP_UP_FAILED: {
    grpc: GrpcCode.PERMISSION_DENIED,
    http: 403,
    description: 'step_up_failed: the authenticator code is wrong or was already used: enter a new one',
  },
  CURRENT_PASSWORD_WRONG: {
    grpc: GrpcCode.PERMISSION_DENIED,
    http: 403,
    description: 'current_password_wrong: the current password is not right',
  },
  /** A new password that fails the policy; the description says which rule. */
  WEAK_PASSWORD: {
    grpc: GrpcCode.INVALID_ARGUMENT,
    http: 400,
    description: 'weak_password: the new password does not meet the password policy',
  },
  /** A playbook or protection-policy document that fails its schema or lint (details name each problem). */
  INVALID_PLAYBOOK: {
    grpc: GrpcCode.INVALID_ARGUMENT,
    http: 400,
    description: 'invalid_playbook: the playbook fails validation',
  },
  INVALID_POLICY: {
    grpc: GrpcCode.INVALID_ARGUMENT,
    http: 400,
    description: 'invalid_policy: the protection policy fails validation',
  },
  SOURCE_NOT_FOUND: { grpc: GrpcCode.NOT_FOUND, http: 404, description: 'signal source not found' },
  /** A webhook source's signature, timestamp or URL token is missing, wrong or outside the replay window. */
  SOURCE_AUTH_FAILED: {
    grpc: GrpcCode.UNAUTHENTICATED,
    http: 401,
    description: 'source_auth_failed: the request is not authenticated for this source',
  },
  /** Leak reports (POST /v1/secret-scanning/reports) are off: CORDON_SECRET_SCANNING_KEYS is unset. */
  SECRET_SCANNING_OFF: {
    grpc: GrpcCode.NOT_FOUND,
    http: 404,
    description: 'secret_scanning_off: this server takes no leak reports (CORDON_SECRET_SCANNING_KEYS is not set)',
  },
  /** A leak report unsigned, badly signed, or signed with a key not in the configured key set. */
  LEAK_REPORT_SIGNATURE: {
    grpc: GrpcCode.UNAUTHENTICATED,
    http: 401,
    description: 'leak_report_signature: the report is not signed by a key of the configured key set',
  },
  /** The same signed report (signature and body) received again within the replay window. */
  LEAK_REPORT_REPLAYED: {
    grpc: GrpcCode.ALREADY_EXISTS,
    http: 409,
    description: 'leak_report_replayed: this signed report was already received',
  },
  /** A leak report of more tokens than one report may hold. */
  LEAK_REPORT_TOO_LARGE: {
    grpc: GrpcCode.RESOURCE_EXHAUSTED,
    http: 413,
    description: 'leak_report_too_large: the report holds more tokens than one report may',
  },
  PLAN_NOT_FOUND: { grpc: GrpcCode.NOT_FOUND, http: 404, description: 'plan not found' },
  SIGNAL_NOT_FOUND: { grpc: GrpcCode.NOT_FOUND, http: 404, description: 'signal not found' },
  CONTAINMENT_NOT_FOUND: { grpc: GrpcCode.NOT_FOUND, http: 404, description: 'containment not found' },
  CONTAINMENT_LOCKED: {
    grpc: GrpcCode.FAILED_PRECONDITION,
    http: 400,
    description:
      'containment_locked: an open containment holds this user suspended; restore it through the containment, or use ' +
      'an app holding containments:release',
  },
  /**
   * An app's release of a locked containment under a restore policy of more than one approval: it becomes a request.
   */
  RELEASE_NEEDS_APPROVAL: {
    grpc: GrpcCode.FAILED_PRECONDITION,
    http: 400,
    description:
      'release_needs_approval: the restore policy needs more than one approval; the release waits for a person',
  },
  /** That request: a pending restore plan (metadata.plan_id) waits for a person's approval. */
  RELEASE_PENDING_APPROVAL: {
    grpc: GrpcCode.FAILED_PRECONDITION,
    http: 400,
    description:
      "release_pending_approval: the release is a restore request that waits for a person's approval under the " +
      'restore policy',
  },
  /** A containment's new secret is shown once: it was read already, or the record made none. */
  SECRET_ALREADY_READ: {
    grpc: GrpcCode.NOT_FOUND,
    http: 404,
    description: 'secret_already_read: this containment keeps no new secret to show (it is shown once)',
  },
  CONTAINMENT_CLOSED: {
    grpc: GrpcCode.FAILED_PRECONDITION,
    http: 400,
    description: 'containment_closed: the containment is already closed',
  },
  PLAN_NOT_PENDING: {
    grpc: GrpcCode.FAILED_PRECONDITION,
    http: 400,
    description: 'plan_not_pending: the plan is not waiting for approval',
  },
  PLAN_EXPIRED: {
    grpc: GrpcCode.FAILED_PRECONDITION,
    http: 400,
    description: 'plan_expired: the time to approve this plan has run out',
  },
  PLAN_VOID: {
    grpc: GrpcCode.FAILED_PRECONDITION,
    http: 400,
    description: 'plan_void: the playbook, policy or containment behind this plan changed; the plan is void',
  },
  DIGEST_MISMATCH: {
    grpc: GrpcCode.FAILED_PRECONDITION,
    http: 400,
    description: 'digest_mismatch: the action digest does not match the plan; read the plan again',
  },
  NOT_AN_APPROVER: {
    grpc: GrpcCode.PERMISSION_DENIED,
    http: 403,
    description: 'not_an_approver: you may not decide this plan',
  },
  RESTORE_UNVERIFIED: {
    grpc: GrpcCode.ABORTED,
    http: 409,
    description: 'restore_unverified: the restore did not verify and was rolled back',
  },
  FAILED_PRECONDITION: { grpc: GrpcCode.FAILED_PRECONDITION, http: 400, description: 'failed precondition' },
  INTERNAL: { grpc: GrpcCode.INTERNAL, http: 500, description: 'internal error' },
  UNAVAILABLE: { grpc: GrpcCode.UNAVAILABLE, http: 503, description: 'service unavailable' },
  /** The embedded data directory is held by another process (see storage/lock-file.ts). */
  DATA_DIR_LOCKED: { grpc: GrpcCode.FAILED_PRECONDITION, http: 503, description: 'the data directory is in use' },
  CONFIG_INVALID: { grpc: GrpcCode.INVALID_ARGUMENT, http: 500, description: 'invalid configuration' },
  // RFC 6749 §5.2 errors of the token endpoint (rendered as {error, error_description} on OAuth routes).
  OAUTH_INVALID_REQUEST: {
    grpc: GrpcCode.INVALID_ARGUMENT,
    http: 400,
    description: 'the request is missing a parameter or is malformed',
  },
  OAUTH_INVALID_CLIENT: { grpc: GrpcCode.UNAUTHENTICATED, http: 401, description: 'client authentication failed' },
  OAUTH_UNAUTHORIZED_CLIENT: {
    grpc: GrpcCode.PERMISSION_DENIED,
    http: 400,
    description: 'the client may not use this grant',
  },
  OAUTH_UNSUPPORTED_GRANT_TYPE: {
    grpc: GrpcCode.INVALID_ARGUMENT,
    http: 400,
    description: 'the grant type is not supported',
  },
  OAUTH_INVALID_SCOPE: {
    grpc: GrpcCode.INVALID_ARGUMENT,
    http: 400,
    description: 'the requested scope exceeds the permissions of the app',
  },
  OAUTH_INVALID_DPOP_PROOF: { grpc: GrpcCode.INVALID_ARGUMENT, http: 400, description: 'the DPoP proof is invalid' },
} as const satisfies Record<string, CodeSpec>;

export type ErrorCode = keyof typeof ErrorCodes;

export interface AppErrorOptions {
  /** Overrides the code's client-safe description. Must never contain secrets or internals. */
  description?: string;
  /** Log-only detail. */
  detail?: string;
  /** Machine-readable metadata for clients (rendered into `details[].metadata`). */
  metadata?: Record<string, string>;
  /** Response headers that belong to the error, e.g. a `WWW-Authenticate` challenge. */
  headers?: Record<string, string>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly description: string;
  readonly detail: string | undefined;
  readonly metadata: Record<string, string> | undefined;
  readonly headers: Record<string, string> | undefined;
  /** Set once the refusal is in the audit log, so that the HTTP layer does not record it twice. */
  audited = false;

  constructor(code: ErrorCode, options: AppErrorOptions = {}) {
    const description = options.description ?? ErrorCodes[code].description;
    super(options.detail ? `${code}: ${description} (${options.detail})` : `${code}: ${description}`, {
      cause: options.cause,
    });
    this.name = 'AppError';
    this.code = code;
    this.description = description;
    this.detail = options.detail;
    this.metadata = options.metadata;
    this.headers = options.headers;
  }

  get httpStatus(): number {
    return ErrorCodes[this.code].http;
  }

  get grpcCode(): number {
    return ErrorCodes[this.code].grpc;
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}

/**
 * Seconds a client is asked to wait (Retry-After) when the database is away: a restarted PostgreSQL is
 * usually accepting connections again within it, and Cordon reconnects on the next call.
 */
const UNAVAILABLE_RETRY_AFTER_S = 1;

/** A 503 UNAVAILABLE with Retry-After: the call may succeed if tried again shortly. */
export function unavailable(description: string, cause?: unknown): AppError {
  return new AppError('UNAVAILABLE', {
    description,
    headers: { 'retry-after': String(UNAVAILABLE_RETRY_AFTER_S) },
    cause,
  });
}

/** google.rpc.Status JSON, the error shape of the Users API and of Cordon's own API. */
export interface RpcStatus {
  code: number;
  message: string;
  details: Array<{ '@type': string; reason: string; domain: string; metadata?: Record<string, string> }>;
}

/** RFC 6749 §5.2 error names for the codes an OAuth route may raise. */
const OAUTH_NAMES: Partial<Record<ErrorCode, string>> = {
  OAUTH_INVALID_REQUEST: 'invalid_request',
  OAUTH_INVALID_CLIENT: 'invalid_client',
  OAUTH_UNAUTHORIZED_CLIENT: 'unauthorized_client',
  OAUTH_UNSUPPORTED_GRANT_TYPE: 'unsupported_grant_type',
  OAUTH_INVALID_SCOPE: 'invalid_scope',
  OAUTH_INVALID_DPOP_PROOF: 'invalid_dpop_proof', // RFC 9449 §5
  INVALID_ARGUMENT: 'invalid_request',
  RATE_LIMITED: 'slow_down', // RFC 8628's name for "ask less often"
  UNAVAILABLE: 'temporarily_unavailable',
  // Global Token Revocation (oauth/global-token-revocation.ts): RFC 6750 §3.1 names for the bearer's refusals.
  UNAUTHENTICATED: 'invalid_token',
  PERMISSION_DENIED: 'insufficient_scope',
  APP_CONSTRAINT: 'access_denied',
  USER_NOT_FOUND: 'user_not_found',
};

/** The RFC 6749 error body: `{error, error_description}`. */
export function toOAuthError(error: AppError): { error: string; error_description: string } {
  return {
    error: OAUTH_NAMES[error.code] ?? (error.httpStatus >= 500 ? 'server_error' : 'invalid_request'),
    error_description: error.description,
  };
}

export function toRpcStatus(error: AppError): RpcStatus {
  return {
    code: error.grpcCode,
    message: error.description,
    details: [
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: error.code,
        domain: 'cordon',
        ...(error.metadata ? { metadata: error.metadata } : {}),
      },
    ],
  };
}
