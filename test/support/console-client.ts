/**
 * A browser without JavaScript, for the console over real HTTP: keeps cookies, reads each page's CSRF
 * token, and posts forms with it. No vitest here: the console benchmark uses it too.
 */
export class ConsoleClient {
  readonly cookies = new Map<string, string>();
  /** The CSRF token of the last page read. */
  csrf = '';

  constructor(readonly url: string) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const response = await fetch(this.url + path, { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (/Max-Age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }

  /** GETs a page; its body, and its CSRF token remembered. */
  async page(path: string): Promise<{ status: number; body: string; response: Response }> {
    const response = await this.request(path);
    const body = await response.text();
    const csrf = /<meta name="csrf-token" content="([^"]+)"/.exec(body)?.[1];
    if (csrf) this.csrf = csrf;
    return { status: response.status, body, response };
  }

  /** POSTs a form (with the CSRF token unless `_csrf` is given). */
  async post(path: string, form: Record<string, string>, headers: Record<string, string> = {}) {
    const body = new URLSearchParams({ _csrf: this.csrf, ...form });
    const response = await this.request(path, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    });
    return { status: response.status, body: await response.text(), location: response.headers.get('location') };
  }
}
