/**
 * The composition root: config → db → store → services → http. Everything is built here and passed
 * down as explicit arguments.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { CallContext } from './audit/entry.js';
import { loadCheckpointKey, type CheckpointKey } from './audit/checkpoint-key.js';
import { Checkpointer } from './audit/checkpointer.js';
import { LatestCheckpoints } from './audit/latest-checkpoints.js';
import { AuditLog } from './audit/log.js';
import { UnauthenticatedRefusals } from './audit/unauthenticated-refusals.js';
import { listenUrl, type Config } from './config.js';
import type { Core } from './core.js';
import type { DemoSummary } from './directory/demo.js';
import { ContainmentWorker } from './response/containment-worker.js';
import type { ResponseDeps } from './response/engine.js';
import { fanOut } from './notify/fan-out.js';
import { WebhookWorker } from './notify/worker.js';
import { VerifiedTokens } from './oauth/access-token.js';
import { enforceAppConstraints } from './oauth/constraints.js';
import { KeyRing } from './oauth/keys.js';
import { TokenStanding } from './oauth/token-standing.js';
import { readOrCreateKekFile, Sealer } from './sealing.js';
import { openDatabase } from './storage/db.js';
import { readOpsGauges } from './store/ops-gauges.js';
import { ConnectorCache, userAgent } from './targets/connectors.js';
import { openConnector, type TargetDeps } from './targets/registry.js';
import { SyncWorker } from './targets/sync.js';
import { holdsNoDatabase } from './storage/pglite-template.js';
import { undoOnTargets } from './targets/restore-steps.js';
import { StepWorker } from './targets/worker.js';

export interface CreateCoreOptions {
  /** Who holds the embedded data dir: `serve` or a CLI command's name. */
  holder: string;
  logger: Logger;
  /** Test support: start PGlite from this dump instead of running initdb. */
  loadDataDir?: Blob;
}

export async function createCore(config: Config, options: CreateCoreOptions): Promise<Core> {
  const database = await openDatabase({
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    pgPoolMax: config.pgPoolMax,
    pgConnectTimeoutMs: config.pgConnectTimeoutMs,
    holder: options.holder,
    ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
  });
  let sealer: Sealer;
  let checkpointKey: CheckpointKey;
  try {
    sealer = new Sealer(config.keyEncryptionKey ?? readOrCreateKekFile(config.dataDir));
    checkpointKey = await loadCheckpointKey(config, database.db, sealer);
  } catch (error) {
    await database.close();
    throw error;
  }
  // prom-client is loaded with the first core, not with this module: a CLI command that goes through a
  // running server's API (or only prints help) opens no core and has no use for it.
  const { createMetrics } = await import('./metrics.js');
  const metrics = createMetrics();
  // The fan-out runs inside the sequencer's passes, which may start before the core is built (its issuer
  // is known once the server listens), and kicks the worker made below.
  const late: { core?: Core; webhookWorker?: WebhookWorker } = {};
  const audit = new AuditLog(database.db, {
    sequencerIntervalMs: config.sequencerIntervalMs,
    sequencerBatch: config.sequencerBatch,
    groupCommitMaxBatch: config.groupCommitMaxBatch,
    groupCommitConcurrency: config.groupCommitConcurrency,
    groupCommitMaxQueue: config.groupCommitMaxQueue,
    logger: options.logger,
    onNumbered: (entries) => metrics.countNumbered(entries),
    inPass: fanOut({
      issuer: () => late.core?.issuer ?? config.issuer ?? listenUrl(config),
      giveUpSeconds: config.webhooks.giveUpSeconds,
      onDeliveries: () => late.webhookWorker?.kick(),
    }),
  });
  audit.sequencer.start();
  const unauthenticatedRefusals = new UnauthenticatedRefusals(audit, {
    windowSeconds: config.unauthenticated.windowSeconds,
    logger: options.logger,
  });
  unauthenticatedRefusals.start();
  const checkpointer = new Checkpointer(database.db, checkpointKey, {
    intervalMs: config.checkpoints.intervalMs,
    logger: options.logger,
  });
  checkpointer.start();
  const keys = new KeyRing(database.db, { sealer, tokenTtl: config.accessTokenTtl });
  const response: ResponseDeps = {
    db: database.db,
    audit,
    sealer,
    appConstraints: enforceAppConstraints,
    containmentClosed: undoOnTargets,
    defaults: {
      breakerMaxActions: config.response.breakerMaxActions,
      breakerWindowSeconds: config.response.breakerWindowSeconds,
      approvalTtlSeconds: config.response.approvalTtlSeconds,
    },
    rawMaxBytes: config.response.rawMaxBytes,
  };
  const containmentWorker = new ContainmentWorker(response, {
    intervalMs: config.response.restoreWorkerIntervalMs,
    logger: options.logger,
  });
  containmentWorker.start();
  const directory = {
    db: database.db,
    audit,
    sealer,
    appConstraints: enforceAppConstraints,
    containmentClosed: undoOnTargets,
  };
  const targets: TargetDeps = {
    ...directory,
    connectors: new ConnectorCache(),
    userAgent: userAgent(),
    timeoutMs: 10_000,
  };
  const syncWorker = new SyncWorker(targets, { intervalMs: config.targets.syncCheckMs, logger: options.logger });
  syncWorker.start();
  const stepWorker = new StepWorker({ db: database.db, audit }, (target) => openConnector(targets, target), {
    intervalMs: config.targetWorker.intervalMs,
    leaseMs: config.targetWorker.leaseMs,
    logger: options.logger,
  });
  response.steps = stepWorker;
  stepWorker.start();
  const notify = { db: database.db, audit, sealer };
  const webhookWorker = new WebhookWorker(notify, {
    ...config.webhooks,
    userAgent: targets.userAgent,
    logger: options.logger,
    onSettled: (state, attempted) => metrics.countWebhookSettled(state, attempted),
  });
  late.webhookWorker = webhookWorker;
  webhookWorker.start();
  metrics.watch({
    readOpsGauges: () => readOpsGauges(database.db),
    groupCommitDepth: () => audit.groupCommitDepth,
    logger: options.logger,
  });
  return (late.core = {
    config,
    database,
    audit,
    checkpointer,
    latestCheckpoints: new LatestCheckpoints(database.db),
    checkpointKey,
    directory,
    targets,
    syncWorker,
    response,
    metrics,
    unauthenticatedRefusals,
    containmentWorker,
    stepWorker,
    notify,
    webhookWorker,
    keys,
    tokenStanding: new TokenStanding(database.db, { tokenTtl: config.accessTokenTtl }),
    accessTokens: new VerifiedTokens(keys, config.accessTokenTtl),
    sealer,
    issuer: config.issuer ?? listenUrl(config),
    logger: options.logger,
    async close() {
      await containmentWorker.stop();
      await stepWorker.stop();
      await webhookWorker.stop();
      await syncWorker.stop();
      await targets.connectors.closeAll();
      await unauthenticatedRefusals
        .close()
        .catch((error: unknown) =>
          options.logger.warn({ err: error }, 'final tally of unauthenticated refusals failed'),
        );
      await audit.settle();
      await audit.sequencer.stop();
      // Number what this process committed before letting go of the database.
      await audit.sequencer
        .drain()
        .catch((error: unknown) => options.logger.warn({ err: error }, 'final audit sequencing failed'));
      await checkpointer.stop();
      await checkpointer
        .pass()
        .catch((error: unknown) => options.logger.warn({ err: error }, 'final audit checkpoint failed'));
      await database.close();
    },
  });
}

export interface RunningServer {
  core: Core;
  http: FastifyInstance;
  url: string;
  /** Where /metrics is served on its own listener (CORDON_METRICS_LISTEN), if anywhere. */
  metricsUrl: string | undefined;
  /** The demo account, when this start created it. */
  demo: DemoSummary | undefined;
  /** Where the start's time went, in ms. */
  startup: StartupTimings;
  close(): Promise<void>;
}

export interface StartupTimings {
  /** The embedded database: the template copy (or initdb) and the engine's start. */
  databaseMs: number;
  migrationsMs: number;
  /** Whether an empty data directory started as the build's migrated template (no initdb). */
  fromTemplate: boolean;
  demoMs: number;
  /** Routes, and listening. */
  httpMs: number;
}

/** Cordon itself, as the actor of what it does on its own (the demo seed). */
const SYSTEM_CONTEXT: CallContext = { actor: { type: 'system', id: 'cordon' }, authz: { method: 'startup' } };

/**
 * Opens the database, seeds the demo on the first start (when configured), and listens. The HTTP server
 * and the demo are loaded here, not with this module: a CLI command that only needs a core (createCore)
 * does not load fastify, the routes and their schemas (half a second of a one-shot command's start).
 */
export async function startServer(config: Config, options: { logger: Logger }): Promise<RunningServer> {
  const [{ prepareDemo, seedDemoIfEmpty }, { buildServer }, { buildMetricsServer }, { consoleRoutes }] =
    await Promise.all([
      import('./directory/demo.js'),
      import('./http/server.js'),
      import('./http/metrics-server.js'),
      import('./console/routes.js'),
    ]);
  // A first start of the embedded database will seed the demo: hash its owner's password (scrypt, on the
  // thread pool) while PGlite starts, instead of after.
  const preparing = config.demo && !config.databaseUrl && holdsNoDatabase(config.dataDir) ? prepareDemo() : undefined;
  preparing?.catch(() => undefined); // awaited below, unless the database fails to open first
  const core = await createCore(config, { holder: 'serve', logger: options.logger });
  let http: FastifyInstance | undefined;
  let metricsHttp: FastifyInstance | undefined;
  try {
    let mark = performance.now();
    const demo = config.demo ? await seedDemoIfEmpty(core.directory, SYSTEM_CONTEXT, preparing) : undefined;
    const demoMs = Math.round(performance.now() - mark);
    mark = performance.now();
    // The console is served only here: the CLI's in-process instance has no browser to serve.
    http = await buildServer(core, { register: (app) => consoleRoutes(app, core) });
    await http.listen({ host: config.listen.host, port: config.listen.port });
    const { openMs, migrateMs, fromTemplate } = core.database.opening;
    const startup = {
      databaseMs: openMs,
      migrationsMs: migrateMs,
      fromTemplate,
      demoMs,
      httpMs: Math.round(performance.now() - mark),
    };
    const address = http.server.address();
    const port = typeof address === 'object' && address ? address.port : config.listen.port;
    const url = listenUrl(config, port);
    core.database.lock?.update({ url });
    if (!config.issuer) core.issuer = url;
    let metricsUrl: string | undefined;
    if (config.metrics.listen) {
      metricsHttp = buildMetricsServer(core);
      await metricsHttp.listen({ host: config.metrics.listen.host, port: config.metrics.listen.port });
      const bound = metricsHttp.server.address();
      const host = config.metrics.listen.host.includes(':')
        ? `[${config.metrics.listen.host}]`
        : config.metrics.listen.host;
      const metricsPort = typeof bound === 'object' && bound ? bound.port : config.metrics.listen.port;
      metricsUrl = `http://${host}:${metricsPort}/metrics`;
    }
    const server = http;
    const metricsServer = metricsHttp;
    return {
      core,
      http: server,
      url,
      metricsUrl,
      demo,
      startup,
      async close() {
        await server.close();
        await metricsServer?.close();
        await core.close();
      },
    };
  } catch (error) {
    await metricsHttp?.close();
    await http?.close();
    await core.close();
    throw error;
  }
}
