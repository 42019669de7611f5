/**
 * The Fastify instance: request ids, JSON logs with secrets redacted, metrics, the OpenAPI document
 * generated from route schemas, and the one error handler that renders every error in the route's
 * documented shape without ever leaking a stack.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import formbody from '@fastify/formbody';
import swagger from '@fastify/swagger';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../core.js';
import { addressMatcher } from '../address-ranges.js';
import { AppError, isAppError, toOAuthError, toRpcStatus } from '../errors.js';
import { trackAnonymousCallers, type AnonymousCallers } from './anonymous-callers.js';
import { decorateClientAddress } from './client-address.js';
import { asAppError } from './error-mapping.js';
import { appsRoutes } from './routes/apps.js';
import { targetsRoutes } from './routes/targets.js';
import { webhooksRoutes } from './routes/webhooks.js';
import { auditRoutes } from './routes/audit.js';
import { authRoutes } from './routes/auth.js';
import { eventsRoutes } from './routes/events.js';
import { eventsTokensRoutes } from './routes/events-tokens.js';
import { secretScanningRoutes } from './routes/secret-scanning.js';
import { credentialsRoutes } from './routes/credentials.js';
import { directoryRoutes } from './routes/directory.js';
import { automationRoutes } from './routes/automation.js';
import { containmentRoutes } from './routes/containments.js';
import { explainRoutes } from './routes/explain.js';
import { playbooksRoutes } from './routes/playbooks.js';
import { signalsRoutes } from './routes/signals.js';
import { usersApiRoutes } from './routes/users-api.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { oauthRoutes } from './routes/oauth.js';
import { globalTokenRevocationRoutes } from './routes/global-token-revocation.js';
import { refuseNul } from './refuse-nul.js';
import { accountsRoutes } from './routes/accounts.js';
import { importRoutes } from './routes/import.js';
import { keysRoutes } from './routes/keys.js';
import { lazySchemaController } from './lazy-schemas.js';
import { admitLocalOperator } from './operator.js';
import { RpcStatusSchema } from './schemas.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface BuildServerOptions {
  /** Extra routes (tests use it to check the error handler and the schema rule). */
  register?: (app: FastifyInstance) => void;
  /**
   * The CLI's in-process instance only (cli/local-api.ts): admit requests bearing this secret as the
   * local operator, and refuse to listen. A served instance never has it (http/operator.ts).
   */
  operatorSecret?: string;
}

export async function buildServer(core: Core, options: BuildServerOptions = {}): Promise<FastifyInstance> {
  const { config } = core;
  // Typed as Fastify's base logger, so that the instance is the plain FastifyInstance the routes take.
  const loggerInstance: FastifyBaseLogger = core.logger;
  const app = Fastify({
    loggerInstance,
    ...(config.tls
      ? { https: { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) } }
      : {}),
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array' } },
    // The CLI's in-process instance compiles a route's schemas when a request first needs them.
    ...(options.operatorSecret !== undefined ? { schemaController: lazySchemaController() } : {}),
  });
  if (options.operatorSecret !== undefined) admitLocalOperator(app, core, options.operatorSecret);

  // Every route declares its responses: response schemas strip unknown fields, the guard against
  // leaking a secret, and the OpenAPI document is generated from them.
  app.addHook('onRoute', (route) => {
    // One rule for NUL on every route, checked after the route's guards, so that a caller who
    // authenticated is refused (and audited) as who they are.
    route.preHandler = [...(route.preHandler ? [route.preHandler].flat() : []), refuseNul];
    if (route.method === 'HEAD' || route.schema?.hide) return;
    if (!route.schema?.response)
      throw new Error(`route ${String(route.method)} ${route.url} declares no response schema`);
  });

  decorateClientAddress(app, addressMatcher(config.trustedProxies));
  const { httpDuration, httpRequests } = core.metrics;
  // Callback hooks, not async ones: they run on every request, and need no promise.
  app.addHook('onResponse', (request, reply, done) => {
    const labels = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    };
    httpDuration.observe(labels, reply.elapsedTime / 1000);
    httpRequests.inc(labels);
    done();
  });
  const anonymous = trackAnonymousCallers(app, core);
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    done(null, payload);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Cordon', version: '0.1.0', description: 'Identity containment plane' },
    },
  });
  app.addSchema(RpcStatusSchema);
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  // Some HTTP clients send `Content-Type: application/json` with an empty body on a bodiless POST (the
  // Users API's :suspend): that is no body (null), not a syntax error. Anything else parses as Fastify
  // would, prototype-poisoning checks included.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body.toString();
    if (text.trim() === '') done(null, null);
    // Fastify's default JSON parser answers through `done`: it returns nothing to wait for.
    else void parseJson(request, text, done);
  });

  app.setErrorHandler((error: FastifyError, request, reply) => sendError(request, reply, error, anonymous));
  app.setNotFoundHandler((request, reply) =>
    sendError(
      request,
      reply,
      new AppError('NOT_FOUND', { description: `no route ${request.method} ${request.url.split('?')[0]}` }),
      anonymous,
    ),
  );

  app.get(
    '/openapi.json',
    {
      schema: {
        summary: 'This OpenAPI 3.1 document',
        tags: ['ops'],
        response: { 200: Type.Object({}, { additionalProperties: true }) },
      },
    },
    async () => app.swagger(),
  );
  healthRoutes(app, core);
  // On the public listener only with a token; CORDON_METRICS_LISTEN serves it apart (app.ts).
  if (config.metrics.token !== undefined) metricsRoutes(app, core);
  oauthRoutes(app, core);
  globalTokenRevocationRoutes(app, core);
  authRoutes(app, core);
  accountsRoutes(app, core);
  keysRoutes(app, core);
  appsRoutes(app, core);
  targetsRoutes(app, core);
  webhooksRoutes(app, core);
  credentialsRoutes(app, core);
  usersApiRoutes(app, core);
  directoryRoutes(app, core);
  importRoutes(app, core);
  auditRoutes(app, core);
  eventsRoutes(app, core);
  eventsTokensRoutes(app, core);
  secretScanningRoutes(app, core);
  signalsRoutes(app, core);
  playbooksRoutes(app, core);
  automationRoutes(app, core);
  containmentRoutes(app, core);
  explainRoutes(app, core);
  options.register?.(app);

  return app;
}

function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  raw: unknown,
  anonymous: AnonymousCallers,
): FastifyReply {
  let error = asAppError(raw);
  // Fastify's 4xx keep their own status (413, 415 …) so clients see the usual HTTP meaning.
  const fastifyStatus = !isAppError(raw) ? (raw as FastifyError).statusCode : undefined;
  let status = fastifyStatus && fastifyStatus >= 400 && fastifyStatus < 500 ? fastifyStatus : error.httpStatus;
  if (status < 500) {
    const limited = anonymous.limit(request, error);
    if (limited !== error) [error, status] = [limited, limited.httpStatus];
  }
  if (error.headers) reply.headers(error.headers);
  // A database that is away fails every call at once: one short line each, not a stack trace each.
  if (error.code === 'UNAVAILABLE')
    request.log.warn(
      { code: error.code, cause: (error.cause as Error | undefined)?.message },
      'request failed: unavailable',
    );
  else if (status >= 500) request.log.error({ err: raw }, 'request failed');
  else request.log.info({ code: error.code, detail: error.detail }, 'request refused');
  // OAuth routes answer RFC 6749 bodies; a failed client authentication is 401 with a challenge.
  if ((request.routeOptions.config as { oauth?: boolean } | undefined)?.oauth) {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    // A bearer route (Global Token Revocation) brings its own RFC 6750 challenge.
    if (status === 401 && !error.headers?.['www-authenticate'])
      reply.header('www-authenticate', 'Basic realm="cordon", charset="UTF-8"');
    return reply.status(status).type('application/json').send(toOAuthError(error));
  }
  return reply.status(status).type('application/json').send(toRpcStatus(error));
}
