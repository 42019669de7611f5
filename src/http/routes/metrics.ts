import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core.js';
import { AppError, toRpcStatus } from '../../errors.js';
import { RpcStatusSchema } from '../schemas.js';

/**
 * `GET /metrics`, the Prometheus exposition of this process. With CORDON_METRICS_TOKEN set it needs
 * `Authorization: Bearer <token>`, compared in constant time (over digests, so the length leaks
 * nothing either).
 */
export function metricsRoutes(app: FastifyInstance, core: Core): void {
  const { registry } = core.metrics;
  const token = core.config.metrics.token;
  const expected = token === undefined ? undefined : digest(token);
  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics of this instance (Authorization: Bearer CORDON_METRICS_TOKEN)',
        tags: ['ops'],
        produces: ['text/plain'],
        response: { 200: Type.String(), 401: RpcStatusSchema },
      },
    },
    async (request, reply) => {
      if (expected !== undefined) {
        const given = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1] ?? '';
        if (!timingSafeEqual(digest(given), expected)) {
          const refusal = new AppError('UNAUTHENTICATED', { description: 'the metrics token is missing or wrong' });
          return reply
            .status(401)
            .header('www-authenticate', 'Bearer realm="cordon-metrics"')
            .type('application/json')
            .send(toRpcStatus(refusal));
        }
      }
      reply.type(registry.contentType);
      return registry.metrics();
    },
  );
}

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
