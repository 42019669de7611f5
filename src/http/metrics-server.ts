/**
 * The listener of CORDON_METRICS_LISTEN (loopback by default): `/metrics` only, kept off the public
 * listener so that a scraper needs no credentials there and the Internet sees no metrics.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Core } from '../core.js';
import { metricsRoutes } from './routes/metrics.js';
import { RpcStatusSchema } from './schemas.js';

export function buildMetricsServer(core: Core): FastifyInstance {
  const app = Fastify({ logger: false });
  app.addSchema(RpcStatusSchema);
  metricsRoutes(app, core);
  return app;
}
