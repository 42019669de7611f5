import type { AuditLog } from '../audit/log.js';
import type { Sealer } from '../sealing.js';
import type { Executor } from '../store/executor.js';

/**
 * What the directory services need: the database, the audit log that records their changes, and the
 * sealer for the TOTP seeds they keep.
 */
export interface DirectoryDeps {
  db: Executor;
  audit: AuditLog;
  sealer: Sealer;
}
