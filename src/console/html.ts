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

/** A value of a JSON record as text: scalars as they are, anything else as compact JSON. */
export const str = (value: unknown): string =>
  value === null || value === undefined
    ? ''
    : typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
      ? String(value)
      : JSON.stringify(value);

/**
 * A block of text that may scroll, in a <pre>: focusable, so that a keyboard can scroll it (axe:
 * scrollable-region-focusable), and named by `label` when given.
 */
export function block(text: string, label?: string): Html {
  return label === undefined
    ? html`<pre class="json" tabindex="0">${text}</pre>`
    : html`<pre class="json" tabindex="0" aria-label="${label}">${text}</pre>`;
}

/** JSON, pretty-printed in a <pre> block (an alert, a snapshot, an entry's details). */
export function json(value: unknown, label?: string): Html {
  return block(JSON.stringify(value, null, 2), label);
}

/** A table row: its cells' contents, or the whole `<tr>` when a cell needs attributes of its own. */
export type Row = readonly Renderable[] | Html;

export interface TableOptions {
  /** The caption; `hidden`, for screen readers only (a heading above already says it). */
  caption?: string | { text: string; hidden: true };
  class?: string;
  /** Shown instead of the table when there is no row. */
  empty?: Renderable;
}

/** A table of `rows` under column headers (`<th scope="col">`). */
export function table(headers: readonly string[], rows: readonly Row[], options: TableOptions = {}): Html {
  if (rows.length === 0 && options.empty !== undefined) return html`${options.empty}`;
  const c = options.caption;
  const caption =
    typeof c === 'string'
      ? html`<caption>
          ${c}
        </caption>`
      : c &&
        html`<caption class="visually-hidden">
          ${c.text}
        </caption>`;
  const body = rows.map((r) =>
    r instanceof Html
      ? r
      : html`<tr>
          ${r.map((cell) => html`<td>${cell}</td>`)}
        </tr>`,
  );
  const attributes = options.class !== undefined && html` class="${options.class}"`;
  return html`<table${attributes}>
    ${caption}
    <thead>
      <tr>
        ${headers.map((h) => html`<th scope="col">${h}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${body}
    </tbody>
  </table>`;
}
