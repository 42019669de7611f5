/**
 * Signing in to the console (email, password, TOTP code: the API's sign-in, as a `web` session in the
 * console's cookie), signing out, and the password change a generated password forces before anything
 * else. The sign-in form is CSRF-protected by a pre-session cookie; its guesses count against the same
 * per-user backoff as the API's, and against this node's per-address limits.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Core } from '../../core.js';
import { rateLimitKey } from '../../address-ranges.js';
import { changePassword } from '../../auth/password-change.js';
import { signIn } from '../../auth/sign-in.js';
import { revokeSession } from '../../directory/sessions.js';
import { AppError, isAppError } from '../../errors.js';
import { RateLimiter } from '../../oauth/rate-limit.js';
import { html } from '../html.js';
import { barePage, csrfField, page, totpField, type PageOptions } from '../layout.js';
import { sendHtml } from '../routes.js';
import {
  assertCsrf,
  clearCookie,
  consoleGuard,
  csrfOf,
  personOf,
  PRE_SESSION_COOKIE,
  preSessionSecret,
  readCookies,
  safeNext,
  SESSION_COOKIE,
  setCookie,
} from '../session.js';
import { formText } from '../form.js';

const ENDED: Record<string, string> = {
  idle: 'Your session ended after a while unused: sign in again.',
  out: 'You are signed out.',
};

function signInForm(csrf: string, next: string, email: string, flash: PageOptions['flash']) {
  return barePage({
    title: 'Sign in to Cordon',
    csrf,
    flash,
    body: html`<form class="stack" method="post" action="/console/sign-in">
      ${csrfField({ csrf })}
      <input type="hidden" name="next" value="${next}" />
      <label for="email">Email</label>
      <input id="email" name="email" type="email" autocomplete="username" required value="${email}" />
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required />
      <label for="totp">Authenticator code</label>
      ${totpField('totp')}
      <label for="account">Account id <span class="muted">(only when this server holds several accounts)</span></label>
      <input id="account" name="account_id" type="text" autocomplete="off" />
      <p><button type="submit">Sign in</button></p>
    </form>`,
  });
}

export function signInPages(app: FastifyInstance, core: Core): void {
  const perAddress = new RateLimiter(core.config.signInRatePerAddress);
  const perAddressEmail = new RateLimiter(core.config.signInRatePerAddressEmail);

  app.get<{ Querystring: { next?: string; ended?: string } }>(
    '/console/sign-in',
    { schema: { hide: true } },
    async (request, reply) => {
      const csrf = csrfOf(preSessionSecret(request, reply));
      const ended = ENDED[request.query.ended ?? ''];
      const flash = ended === undefined ? undefined : { kind: 'good' as const, text: ended };
      return sendHtml(reply, signInForm(csrf, safeNext(request.query.next), '', flash));
    },
  );

  app.post('/console/sign-in', { schema: { hide: true } }, async (request, reply) => {
    const form = request.body;
    const secret = readCookies(request).get(PRE_SESSION_COOKIE) ?? '';
    assertCsrf(request, csrfOf(secret));
    const email = formText(form, 'email').slice(0, 320);
    const next = safeNext(formText(form, 'next'));
    const address = rateLimitKey(request.clientAddress);
    let destination: string;
    try {
      perAddress.take(address);
      perAddressEmail.take(`${address} ${email.trim().toLowerCase()}`);
      const accountId = formText(form, 'account_id').trim();
      const signedIn = await signIn(core.directory, core.config.sessionTtl, {
        accountId: accountId === '' ? undefined : accountId.slice(0, 64),
        email,
        password: formText(form, 'password').slice(0, 1024),
        totp: formText(form, 'totp').slice(0, 16),
        kind: 'console',
        sourceAddress: request.clientAddress,
        userAgent: request.headers['user-agent']?.slice(0, 256),
      });
      setCookie(reply, SESSION_COOKIE, signedIn.token, core.config.sessionTtl);
      clearCookie(reply, PRE_SESSION_COOKIE);
      destination = signedIn.user.password_change_required ? '/console/password' : next;
    } catch (error) {
      if (!isAppError(error) || error.httpStatus >= 500) throw error;
      if (error.headers) reply.headers(error.headers);
      const flash = { kind: 'bad' as const, text: error.description };
      return sendHtml(reply, signInForm(csrfOf(secret), next, email, flash), error.httpStatus);
    }
    return reply.redirect(destination, 303);
  });

  app.post(
    '/console/sign-out',
    { schema: { hide: true }, preHandler: consoleGuard(core, { beforePasswordChange: true }) },
    async (request, reply) => {
      const { session, ctx } = personOf(request);
      await revokeSession(core.directory, ctx, session.account_id, session.id, 'sign_out');
      clearCookie(reply, SESSION_COOKIE);
      return reply.redirect('/console/sign-in?ended=out', 303);
    },
  );

  const passwordPage = (request: FastifyRequest, reply: FastifyReply, flash: PageOptions['flash'], status = 200) => {
    const person = personOf(request);
    const required =
      person.session.user.password_change_required &&
      html`<p>Your password was generated for you: choose your own before anything else.</p>`;
    return sendHtml(
      reply,
      page(person, {
        title: 'Change your password',
        section: 'account',
        flash,
        body: html`${required}
          <form class="stack" method="post" action="/console/password">
            ${csrfField(person)}
            <label for="current">Current password</label>
            <input id="current" name="current_password" type="password" autocomplete="current-password" required />
            <label for="new">New password <span class="muted">(at least 12 characters)</span></label>
            <input id="new" name="new_password" type="password" autocomplete="new-password" minlength="12" required />
            <label for="confirm">New password, again</label>
            <input
              id="confirm"
              name="confirm_password"
              type="password"
              autocomplete="new-password"
              minlength="12"
              required
            />
            <p><button type="submit">Change password</button></p>
          </form>`,
      }),
      status,
    );
  };
  const anySession = consoleGuard(core, { beforePasswordChange: true });
  app.get('/console/password', { schema: { hide: true }, preHandler: anySession }, (request, reply) =>
    passwordPage(request, reply, undefined),
  );
  app.post('/console/password', { schema: { hide: true }, preHandler: anySession }, async (request, reply) => {
    const form = request.body;
    const { session, ctx } = personOf(request);
    try {
      if (formText(form, 'new_password') !== formText(form, 'confirm_password'))
        throw new AppError('INVALID_ARGUMENT', { description: 'the two new passwords differ' });
      await changePassword(
        core.directory,
        ctx,
        session,
        formText(form, 'current_password').slice(0, 1024),
        formText(form, 'new_password').slice(0, 4096),
      );
    } catch (error) {
      if (!isAppError(error) || error.httpStatus >= 500) throw error;
      if (error.headers) reply.headers(error.headers);
      return passwordPage(request, reply, { kind: 'bad', text: error.description }, error.httpStatus);
    }
    return reply.redirect('/console', 303);
  });
}
