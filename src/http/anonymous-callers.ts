/**
 * Callers that did not authenticate (no credentials, or ones that failed). Their refusals never reach an
 * account's log (audited-calls.ts skips them): they are tallied per address into the system log
 * (audit/unauthenticated-refusals.ts) and counted in the metrics. Past CORDON_UNAUTHENTICATED_RATE_PER_ADDRESS
 * refusals a minute, an address's further unauthenticated requests are answered 429; a request that
 * authenticates still passes, so an attacker sharing an address with real clients does not lock them out.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Core } from '../core.js';
import { rateLimitKey } from '../address-ranges.js';
import type { AppError } from '../errors.js';
import { RateLimiter, rateLimited } from '../oauth/rate-limit.js';

/** Whether the request proved who it is: an app token, a session, a signal source's secret, or the local operator's. */
export function isAuthenticated(request: FastifyRequest): boolean {
  return (
    request.principal !== undefined ||
    request.human !== undefined ||
    request.source !== undefined ||
    request.operator !== undefined
  );
}

/** The method and route pattern of a request, never its raw path. */
export function routeLabel(request: FastifyRequest): string {
  return `${request.method} ${request.routeOptions.url ?? 'unmatched'}`;
}

export interface AnonymousCallers {
  /**
   * The error to answer an unauthenticated caller instead of `error`: RATE_LIMITED once its address is over the limit.
   */
  limit(request: FastifyRequest, error: AppError): AppError;
}

/** Tallies every unauthenticated refusal `app` answers, and limits them per address. */
export function trackAnonymousCallers(app: FastifyInstance, core: Core): AnonymousCallers {
  const limiter = new RateLimiter(core.config.unauthenticated.ratePerAddress);
  const refusals = core.metrics.unauthenticatedRefusals;
  app.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode;
    if (status >= 400 && status < 500 && !isAuthenticated(request)) {
      core.unauthenticatedRefusals.count(request.clientAddress, routeLabel(request), status);
      refusals.inc({ status: String(status) });
    }
    done();
  });
  return {
    limit(request, error) {
      // Sign-in and the OAuth endpoints have limits of their own, and audit their refusals themselves.
      if (
        isAuthenticated(request) ||
        (request.routeOptions.config as { ownRateLimits?: boolean } | undefined)?.ownRateLimits
      )
        return error;
      const wait = limiter.hit(rateLimitKey(request.clientAddress));
      return wait > 0 ? rateLimited(wait) : error;
    },
  };
}
