/**
 * What the composition root (app.ts) builds and hands down: the configuration, the database, and every
 * service with its dependencies. Only a type: the HTTP layer and the CLI take a `Core` without
 * importing the module that builds one.
 */
import type { Logger } from 'pino';
import type { CheckpointKey } from './audit/checkpoint-key.js';
import type { Checkpointer } from './audit/checkpointer.js';
import type { LatestCheckpoints } from './audit/latest-checkpoints.js';
import type { AuditLog } from './audit/log.js';
import type { UnauthenticatedRefusals } from './audit/unauthenticated-refusals.js';
import type { Config } from './config.js';
import type { DirectoryDeps } from './directory/deps.js';
import type { Metrics } from './metrics.js';
import type { NotifyDeps } from './notify/subscriptions.js';
import type { WebhookWorker } from './notify/worker.js';
import type { VerifiedTokens } from './oauth/access-token.js';
import type { KeyRing } from './oauth/keys.js';
import type { TokenStanding } from './oauth/token-standing.js';
import type { ContainmentWorker } from './response/containment-worker.js';
import type { ResponseDeps } from './response/engine.js';
import type { Sealer } from './sealing.js';
import type { TargetDeps } from './targets/registry.js';
import type { SyncWorker } from './targets/sync.js';
import type { StepWorker } from './targets/worker.js';
import type { DatabaseHandle } from './storage/db.js';

export interface Core {
  config: Config;
  database: DatabaseHandle;
  audit: AuditLog;
  /** Signs the audit logs' checkpoints, with `checkpointKey`. */
  checkpointer: Checkpointer;
  latestCheckpoints: LatestCheckpoints;
  checkpointKey: CheckpointKey;
  directory: DirectoryDeps;
  /** The response engine's dependencies: the directory's, with the engine's defaults. */
  response: ResponseDeps;
  /** This process's Prometheus metrics. */
  metrics: Metrics;
  /** Refusals of callers that did not authenticate, tallied into the system log. */
  unauthenticatedRefusals: UnauthenticatedRefusals;
  /** Restore-after and approval expiry (response/containment-worker.ts). */
  containmentWorker: ContainmentWorker;
  /** Targets: the directory's dependencies with the connectors this process holds open. */
  targets: TargetDeps;
  /** The scheduled mirror of every target's users (targets/sync.ts). */
  syncWorker: SyncWorker;
  /** Carries out containments' remote steps (targets/worker.ts). */
  stepWorker: StepWorker;
  /** Webhook subscriptions' dependencies (notify/subscriptions.ts). */
  notify: NotifyDeps;
  /** Sends the webhook deliveries the audit log's fan-out writes (notify/worker.ts). */
  webhookWorker: WebhookWorker;
  keys: KeyRing;
  /** Whether verified access tokens still stand (the guard's per-request database check). */
  tokenStanding: TokenStanding;
  /** Access tokens whose signature this process already checked (oauth/access-token.ts). */
  accessTokens: VerifiedTokens;
  /** Seals secrets kept at rest (signing keys, TOTP seeds) under the key-encryption key. */
  sealer: Sealer;
  /** The `iss` of access tokens: CORDON_ISSUER, or the URL the server listens on. */
  issuer: string;
  logger: Logger;
  close(): Promise<void>;
}
