import type { AuditLog } from '../audit/log.js';
import type { Executor } from '../store/executor.js';

/** What the directory services need: the database and the audit log that records their changes. */
export interface DirectoryDeps {
  db: Executor;
  audit: AuditLog;
}
