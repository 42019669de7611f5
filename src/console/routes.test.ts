import { describe, expect, it } from 'vitest';
import { compactHtml } from './routes.js';

describe('compactHtml', () => {
  it('drops the indentation after line breaks, but not inside <pre> and <textarea>', () => {
    const page =
      '<main>\n    <p>a\n      b</p>\n  <pre class="json">{\n  "x": 1\n}</pre>\n' +
      '  <textarea>\n  kept\n</textarea>\n</main>';
    expect(compactHtml(page)).toBe(
      '<main>\n<p>a\nb</p>\n<pre class="json">{\n  "x": 1\n}</pre>\n<textarea>\n  kept\n</textarea>\n</main>',
    );
  });
});
