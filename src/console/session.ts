/**
 * The console's session: an opaque `cordon_sess_` sign-in session of its own kind (`console`: the API refuses it
 * as a Bearer token, and the console takes no other kind), carried in a `__Host-cordon` cookie (Secure,
 * HttpOnly, SameSite=Strict, Path=/, no Domain), looked up by its hash on every request, so a sign-out,
 * suspension or credential reset holds at once on every node. Besides the session's absolute lifetime
 * (CORDON_SESSION_TTL) it ends after CORDON_CONSOLE_IDLE_TIMEOUT unused.
 *
 * CSRF: every state-changing request carries a token derived from the session token (SHA-256 under a
 * label), in the `_csrf` form field or the `x-csrf-token` header that console.js sets on htmx requests;
 * a page gets it in a <meta> and in each form. Nobody without the cookie can compute it, it needs no
 * storage, and it dies with the session. Before sign-in, the sign-in form is protected the same way by a
 * random `__Host-cordon-pre` cookie. On top, a request whose Origin (or Sec-Fetch-Site) says it comes
 * from another site is refused before anything else.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../core.js';
import type { SessionPrincipal } from '../auth/principal.js';
import { hashSessionToken, isSessionToken } from '../auth/sign-in.js';
import { revokeSession } from '../directory/sessions.js';
import { AppError } from '../errors.js';
import { requestOrigin } from '../http/guards/app-token.js';
import type { UserRole } from '../storage/schema.js';
import { findLiveSessionByTokenHash, touchSession } from '../store/sessions.js';

export const SESSION_COOKIE = '__Host-cordon';
export const PRE_SESSION_COOKIE = '__Host-cordon-pre';

/** The signed-in person a console request acts as, with the CSRF token its pages carry. */
export interface ConsolePerson extends SessionPrincipal {
  csrf: string;
  accountId: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    console?: ConsolePerson;
  }
}

/** The cookies a request sent (first of each name wins). */
export function readCookies(request: FastifyRequest): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (!cookies.has(name)) cookies.set(name, part.slice(eq + 1).trim());
  }
  return cookies;
}

export function setCookie(reply: FastifyReply, name: string, value: string, maxAgeSeconds: number): void {
  const cookie = `${name}=${value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=${Math.max(0, maxAgeSeconds)}`;
  const existing = reply.getHeader('set-cookie');
  reply.header('set-cookie', [...(Array.isArray(existing) ? existing : existing ? [String(existing)] : []), cookie]);
}

export function clearCookie(reply: FastifyReply, name: string): void {
  setCookie(reply, name, '', 0);
}

export function csrfOf(secret: string): string {
  return createHash('sha256').update(`cordon console csrf\n${secret}`).digest('base64url');
}

function sameToken(given: unknown, expected: string): boolean {
  if (typeof given !== 'string' || given.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

/** The CSRF token a request presents: the form field, or the header htmx sends. */
function presentedCsrf(request: FastifyRequest): unknown {
  const header = request.headers['x-csrf-token'];
  if (typeof header === 'string') return header;
  return (request.body as Record<string, unknown> | undefined)?._csrf;
}

/**
 * Refuses a state-changing request from another site: an Origin that is not this server's, or a
 * browser's Sec-Fetch-Site of `cross-site`. (SameSite=Strict already keeps the cookie off such a
 * request; this says so plainly, and covers the sign-in form, which has no session yet.)
 */
export function assertSameOrigin(request: FastifyRequest): void {
  const site = request.headers['sec-fetch-site'];
  const origin = request.headers.origin;
  const host = request.headers.host;
  const crossOrigin = typeof origin === 'string' && origin !== 'null' && hostOf(origin) !== host;
  if (site === 'cross-site' || origin === 'null' || crossOrigin)
    throw new AppError('PERMISSION_DENIED', { description: 'a console form may only be sent from the console itself' });
}

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

/** Refuses a state-changing request without the CSRF token `expected`. */
export function assertCsrf(request: FastifyRequest, expected: string): void {
  assertSameOrigin(request);
  if (!sameToken(presentedCsrf(request), expected))
    throw new AppError('PERMISSION_DENIED', { description: 'the form has expired or did not come from the console' });
}

/** The pre-sign-in CSRF secret, made (and set as a cookie) when the browser has none. */
export function preSessionSecret(request: FastifyRequest, reply: FastifyReply): string {
  const given = readCookies(request).get(PRE_SESSION_COOKIE);
  if (given !== undefined && /^[A-Za-z0-9_-]{43}$/.test(given)) return given;
  const secret = randomBytes(32).toString('base64url');
  setCookie(reply, PRE_SESSION_COOKIE, secret, 3600);
  return secret;
}

/** Thrown to send a browser elsewhere (the sign-in page, the password change). */
export class Redirect extends Error {
  constructor(readonly location: string) {
    super(location);
  }
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface ConsoleGuardOptions {
  roles?: readonly UserRole[];
  /** The password-change page itself (and sign-out) serve a session that must still change it. */
  beforePasswordChange?: boolean;
  /** A request the page makes on its own (an htmx poll): it does not count as use against the idle timeout. */
  passive?: boolean;
}

/**
 * A preHandler admitting a live console session (of `roles`), checking CSRF on state-changing requests,
 * and ending a session idle too long. A browser without a session is sent to the sign-in page.
 */
export function consoleGuard(core: Core, options: ConsoleGuardOptions = {}) {
  const roles = options.roles ?? ['OWNER', 'ADMIN', 'MEMBER'];
  return async (request: FastifyRequest): Promise<void> => {
    const token = readCookies(request).get(SESSION_COOKIE);
    const signIn = new Redirect(`/console/sign-in?next=${encodeURIComponent(nextOf(request))}`);
    if (!isSessionToken(token)) {
      if (MUTATING.has(request.method)) assertSameOrigin(request);
      throw signIn;
    }
    const session = await findLiveSessionByTokenHash(core.database.db, hashSessionToken(token));
    // Only the console's own kind: an API or CLI session token planted in the cookie is no sign-in here.
    if (session?.kind !== 'console') throw signIn;
    const ctx = {
      actor: { type: 'user' as const, id: session.user_id },
      authz: {
        method: 'session',
        session_id: session.id,
        role: session.user.role,
        via: 'console',
        ...requestOrigin(request),
      },
    };
    const idleFor = (Date.now() - new Date(session.last_seen_at).getTime()) / 1000;
    if (idleFor > core.config.consoleIdleTimeout) {
      await revokeSession(core.directory, ctx, session.account_id, session.id, 'idle_timeout');
      throw new Redirect('/console/sign-in?ended=idle');
    }
    const person: ConsolePerson = { session, ctx, csrf: csrfOf(token), accountId: session.account_id };
    request.console = person;
    if (MUTATING.has(request.method)) assertCsrf(request, person.csrf);
    // Marked seen at most every 30 s (or every tenth of the idle time, when that is shorter): most pages
    // cost no write, and no statement.
    const every = Math.min(30, core.config.consoleIdleTimeout / 10);
    if (!options.passive && idleFor > every)
      await touchSession(core.database.db, session.account_id, session.id, every);
    if (session.user.password_change_required && !options.beforePasswordChange) throw new Redirect('/console/password');
    if (!roles.includes(session.user.role))
      throw new AppError('PERMISSION_DENIED', { description: `this page is for ${roles.join(' or ')} users` });
  };
}

/** Where to come back to after signing in: this page (GETs only), else the inbox. */
function nextOf(request: FastifyRequest): string {
  return request.method === 'GET' && !request.headers['hx-request'] ? request.url : '/console';
}

/** The console person of a request a consoleGuard admitted. */
export function personOf(request: FastifyRequest): ConsolePerson {
  if (!request.console) throw new AppError('UNAUTHENTICATED', { description: 'sign in to the console' });
  return request.console;
}

/** A `next` parameter that stays inside the console (an open redirect otherwise). */
export function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/console(?:[/?#]|$)/.test(next) && !next.startsWith('//') ? next : '/console';
}
