/**
 * One webhook POST: a timeout, no redirect followed (a 3xx is a failed attempt: the receiver's URL is the
 * one its owner registered), and only an excerpt of the answer kept for the delivery log.
 */
export interface SendResult {
  /** The receiver's HTTP status, or null when none came (refused, timed out, reset). */
  status: number | null;
  latencyMs: number;
  /** Why the attempt failed, when it did (never the request's headers). */
  error: string | null;
  /** The first bytes of the receiver's answer. */
  excerpt: string | null;
  /** The receiver's Retry-After, in ms, when it sent one. */
  retryAfterMs: number | null;
}

export interface SendOptions {
  timeoutMs: number;
  userAgent: string;
}

/** How much of a receiver's answer, and of an error, the log keeps. */
export const EXCERPT_CHARS = 512;

export async function postWebhook(
  url: string,
  body: string,
  headers: Record<string, string>,
  options: SendOptions,
): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const response = await fetch(url, {
      method: 'POST',
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs),
      headers: { 'content-type': 'application/json', 'user-agent': options.userAgent, ...headers },
    });
    const excerpt = await readExcerpt(response);
    const ok = response.status >= 200 && response.status < 300;
    return {
      status: response.status,
      latencyMs: elapsed(),
      error: ok ? null : `HTTP ${response.status}`,
      excerpt,
      retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
    };
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason =
      (error as Error).name === 'TimeoutError'
        ? `no answer within ${options.timeoutMs} ms`
        : (cause?.code ?? cause?.message ?? (error as Error).message);
    return {
      status: null,
      latencyMs: elapsed(),
      error: String(reason).slice(0, EXCERPT_CHARS),
      excerpt: null,
      retryAfterMs: null,
    };
  }
}

/** The first EXCERPT_CHARS of the body, reading no more than that (a receiver may answer a lot). */
async function readExcerpt(response: Response): Promise<string | null> {
  if (!response.body) return null;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    // Breaking out of the loop cancels the rest of the stream.
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      chunks.push(Buffer.from(chunk));
      size += chunk.length;
      if (size >= EXCERPT_CHARS * 4) break;
    }
  } catch {
    // An answer cut short still leaves what came.
  }
  const text = Buffer.concat(chunks).toString('utf8').slice(0, EXCERPT_CHARS);
  return text === '' ? null : text;
}

/** Retry-After as delay-seconds or an HTTP date (RFC 9110 §10.2.3), in ms; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null) return null;
  if (/^\d{1,9}$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
