/**
 * The console's one template engine: `html` tagged template literals. Every interpolated value is
 * escaped as HTML text unless it is already `Html` (built by this tag), so nothing a client or the
 * database holds can open a tag or an attribute; arrays are joined, and null, undefined and false render
 * as nothing (so `${cond && html`…`}` works). There is no way to mark a string as safe but building it
 * with the tag.
 */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export type Renderable = Html | string | number | bigint | boolean | null | undefined | readonly Renderable[];

function render(value: Renderable): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Renderable[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1]!;
  return new Html(out);
}

/** A timestamp as the console shows it: UTC, to the second, in a <time> element carrying the exact instant. */
export function time(value: Date | string | null | undefined): Html {
  if (value === null || value === undefined) return html`<span class="muted">—</span>`;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return html`<span class="muted">—</span>`;
  const iso = date.toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 19).replace('T', ' ')}Z</time>`;
}

/** JSON, pretty-printed in a <pre> block (an alert, a snapshot, an entry's details). */
export function json(value: unknown): Html {
  return html`<pre class="json" tabindex="0">${JSON.stringify(value, null, 2)}</pre>`;
}
