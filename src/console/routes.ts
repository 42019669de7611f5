/**
 * The console, mounted by `cordon serve` (app.ts) at /console, with `/` sending browsers there. Its
 * routes live in their own fastify scope: every answer carries the console's security headers (a CSP of
 * `default-src 'self'` with `frame-ancestors 'none'`, no-store, nosniff, a same-origin referrer: with none,
 * a browser's form posts say `Origin: null`), and errors render as HTML pages (a browser without a session
 * goes to the sign-in page; htmx requests are told where with HX-Redirect) instead of the API's JSON. Each
 * page module registers its own routes; every action calls the same service functions as the API, as the
 * signed-in person.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../core.js';
import { AppError, isAppError } from '../errors.js';
import { asAppError } from '../http/error-mapping.js';
import { assetRoutes } from './assets.js';
import { html, type Html } from './html.js';
import { barePage, page } from './layout.js';
import { auditPages } from './pages/audit.js';
import { automationPages } from './pages/automation.js';
import { containmentPages } from './pages/containments.js';
import { incidentPages } from './pages/incidents.js';
import { inboxPages } from './pages/inbox.js';
import { planPages } from './pages/plan.js';
import { playbookPages } from './pages/playbooks.js';
import { signInPages } from './pages/sign-in.js';
import { userPages } from './pages/users.js';
import { consoleGuard, Redirect } from './session.js';

export type ConsolePages = (app: FastifyInstance, core: Core) => void;

/** Every page module, in the order of the navigation. */
const PAGES: ConsolePages[] = [
  signInPages,
  inboxPages,
  planPages,
  incidentPages,
  containmentPages,
  userPages,
  auditPages,
  playbookPages,
  automationPages,
];

export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

/** Blocks whose whitespace is content: left exactly as rendered. */
const VERBATIM = /(<pre[\s>][\s\S]*?<\/pre>|<textarea[\s>][\s\S]*?<\/textarea>)/;

/**
 * A page without the templates' indentation (a quarter of the bytes): each line break and the spaces
 * after it become one line break, outside <pre> and <textarea>, whose whitespace is their content.
 */
export function compactHtml(text: string): string {
  return text
    .split(VERBATIM)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/\n\s+/g, '\n')))
    .join('');
}

/** Sends a rendered page. */
export function sendHtml(reply: FastifyReply, body: Html, status = 200): FastifyReply {
  return reply.status(status).type('text/html; charset=utf-8').send(compactHtml(body.text));
}

export function consoleRoutes(app: FastifyInstance, core: Core): void {
  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/console', 302));
  // Browsers ask for it on every first visit; the console has no icon, and says so without a 404.
  app.get('/favicon.ico', { schema: { hide: true } }, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=86400').status(204).send(),
  );
  // Registered now, loaded with the other plugins when the server starts.
  void app.register(async (scope) => {
    scope.addHook('onSend', (_request, reply, payload, done) => {
      reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
      reply.header('x-frame-options', 'DENY');
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'same-origin');
      reply.header('cross-origin-opener-policy', 'same-origin');
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
      done(null, payload);
    });
    scope.setErrorHandler((error: FastifyError, request, reply) => renderError(request, reply, error));
    assetRoutes(scope);
    for (const register of PAGES) register(scope, core);
    // Any other console path: to the sign-in page without a session, else a page saying so (not the API's JSON).
    scope.all('/console/*', { schema: { hide: true }, preHandler: consoleGuard(core) }, (request) => {
      throw new AppError('NOT_FOUND', { description: `no console page ${request.url.split('?')[0]}` });
    });
  });
}

function renderError(request: FastifyRequest, reply: FastifyReply, raw: unknown): FastifyReply {
  if (raw instanceof Redirect) {
    if (request.headers['hx-request']) return reply.header('hx-redirect', raw.location).status(204).send();
    return reply.redirect(raw.location, 303);
  }
  const error = asAppError(raw);
  const fastifyStatus = !isAppError(raw) ? (raw as FastifyError).statusCode : undefined;
  const status = fastifyStatus && fastifyStatus >= 400 && fastifyStatus < 500 ? fastifyStatus : error.httpStatus;
  if (status >= 500) request.log.error({ err: raw }, 'console request failed');
  else request.log.info({ code: error.code, detail: error.detail }, 'console request refused');
  if (error.headers) reply.headers(error.headers);
  const text = status >= 500 ? 'Something went wrong on our side; it has been logged.' : error.description;
  const body = html`<p class="flash bad" role="alert">${text}</p>
    <p><a href="/console">Back to the console</a></p>`;
  const title = status === 403 ? 'Not allowed' : status === 404 ? 'Not found' : 'That did not work';
  if (request.headers['hx-request']) return sendHtml(reply, body, status);
  const person = request.console;
  return sendHtml(reply, person ? page(person, { title, body }) : barePage({ title, body }), status);
}
