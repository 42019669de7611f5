import type { CallContext } from '../audit/entry.js';
import type { AuditLog } from '../audit/log.js';
import type { Sealer } from '../sealing.js';
import type { User, UserState } from '../storage/schema.js';
import type { Executor } from '../store/executor.js';
import type { AppConstraints } from '../store/tokens.js';

/**
 * What the directory services need: the database, the audit log that records their changes, the
 * sealer for the TOTP seeds they keep, and the check of an app's constraints.
 */
export interface DirectoryDeps {
  db: Executor;
  audit: AuditLog;
  sealer: Sealer;
  /**
   * Run inside every change an app makes to a user's state (user-state.ts): oauth/constraints.ts, passed in by app.ts.
   */
  appConstraints: AppConstraintCheck;
  /**
   * Run inside a reactivation that closes a containment record other than through a restore (an app holding
   * containments:release, or an unlocked record): the record's remote side is undone too (targets/
   * restore-steps.ts, passed in by app.ts). Absent, only the local directory is reactivated.
   */
  containmentClosed?: ContainmentClosedHook | undefined;
}

export type ContainmentClosedHook = (
  trx: Executor,
  accountId: string,
  containmentId: string,
  ctx: CallContext,
) => Promise<void>;

/**
 * The constraints an app acts under, checked in the change's transaction: refuses when the app may not act
 * on `user` at all, and returns the check to run right before the change. `known` are the constraints
 * the caller's guard already read on this request.
 */
export type AppConstraintCheck = (
  trx: Executor,
  accountId: string,
  clientId: string,
  user: User,
  known?: AppConstraints,
) => Promise<{ beforeChange(target: UserState): Promise<void> }>;
