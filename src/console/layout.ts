/**
 * The frame of every console page: one stylesheet, htmx and console.js (deferred, same origin), the
 * CSRF token in a <meta> for htmx, the navigation for the person's role, and their sign-out form.
 * Nothing inline: no <script> or <style> elements, no style= or on…= attributes (the CSP forbids them).
 */
import { assetUrl } from './assets.js';
import { html, type Html, type Renderable } from './html.js';
import type { ConsolePerson } from './session.js';

export type Section = 'inbox' | 'incidents' | 'users' | 'audit' | 'playbooks' | 'automation' | 'account';

const NAV: Array<{ section: Section; href: string; label: string; admin?: boolean }> = [
  { section: 'inbox', href: '/console', label: 'Approvals' },
  { section: 'incidents', href: '/console/incidents', label: 'Incidents' },
  { section: 'users', href: '/console/users', label: 'Users' },
  { section: 'audit', href: '/console/audit', label: 'Audit' },
  { section: 'playbooks', href: '/console/playbooks', label: 'Playbooks' },
  { section: 'automation', href: '/console/automation', label: 'Automation' },
];

export interface PageOptions {
  title: string;
  section?: Section;
  body: Renderable;
  /** A message above the page's content. */
  flash?: { kind: 'good' | 'bad'; text: string } | undefined;
}

function head(title: string, csrf: string | undefined): Html {
  return html`<head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${title} · Cordon</title>
    ${csrf !== undefined && html`<meta name="csrf-token" content="${csrf}" />`}
    <meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false}' />
    <link rel="stylesheet" href="${assetUrl('console.css')}" />
    <script src="${assetUrl('htmx.min.js')}" defer></script>
    <script src="${assetUrl('console.js')}" defer></script>
  </head>`;
}

export function flashBox(flash: PageOptions['flash']): Html {
  if (!flash) return html``;
  return html`<p class="flash ${flash.kind}" role="${flash.kind === 'bad' ? 'alert' : 'status'}">${flash.text}</p>`;
}

/** A page for a signed-in person. */
export function page(person: ConsolePerson, options: PageOptions): Html {
  const user = person.session.user;
  return html`<!doctype html>
    <html lang="en">
      ${head(options.title, person.csrf)}
      <body>
        <header class="top">
          <a class="brand" href="/console">Cordon</a>
          <nav aria-label="Console">
            <ul>
              ${NAV.map(
                (item) =>
                  html`<li>
                    <a href="${item.href}" ${item.section === options.section ? html` aria-current="page"` : ''}
                      >${item.label}</a
                    >
                  </li>`,
              )}
            </ul>
          </nav>
          <div class="who">
            <span>${user.display_name} (${user.role.toLowerCase()})</span>
            <form class="inline" method="post" action="/console/sign-out">
              ${csrfField(person)}<button class="secondary" type="submit">Sign out</button>
            </form>
          </div>
        </header>
        <main id="main">
          <h1>${options.title}</h1>
          ${flashBox(options.flash)} ${options.body}
        </main>
      </body>
    </html>`;
}

/** A page for nobody signed in yet (sign-in, an error before sign-in). */
export function barePage(options: PageOptions & { csrf?: string }): Html {
  return html`<!doctype html>
    <html lang="en">
      ${head(options.title, options.csrf)}
      <body>
        <main id="main" class="sign-in">
          <h1>${options.title}</h1>
          ${flashBox(options.flash)} ${options.body}
        </main>
      </body>
    </html>`;
}

/** The hidden CSRF field every console form carries. */
export function csrfField(person: Pick<ConsolePerson, 'csrf'>): Html {
  return html`<input type="hidden" name="_csrf" value="${person.csrf}" />`;
}

/** The field of an authenticator code (`totp`): six digits, filled in by a password manager when it can. */
export function totpField(id: string): Html {
  return html`<input
    id="${id}"
    name="totp"
    type="text"
    inputmode="numeric"
    autocomplete="one-time-code"
    pattern="[0-9]{6}"
    required
  />`;
}
