/**
 * The code host's keys that sign leak reports, in GitHub's published format
 * (`{"public_keys":[{"key_identifier","key","is_current"}]}`, `key` a PEM public key; GitHub secret scanning
 * partner program). Read from a file or fetched from a URL, and cached:
 * - a URL for its `Cache-Control: max-age`, kept within MIN_TTL_S..MAX_TTL_S (DEFAULT_TTL_S without one);
 *   a file for FILE_TTL_S, so that a key added to it is picked up without a restart;
 * - a key id not in the cache reloads the set at most once per UNKNOWN_KEY_RELOAD_S, so that a report
 *   signed with a key the host just added is verified, while forged key ids cannot make Cordon fetch at
 *   the attacker's pace;
 * - a reload that fails keeps the keys already held (retried after MIN_TTL_S); with none held, the
 *   report is answered 503 and the code host retries.
 * Only ECDSA P-256 keys are kept: a report's signature is ECDSA P-256 with SHA-256.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { unavailable } from '../../errors.js';

export const MIN_TTL_S = 60;
export const MAX_TTL_S = 86_400;
export const DEFAULT_TTL_S = 3600;
export const FILE_TTL_S = 300;
export const UNKNOWN_KEY_RELOAD_S = 60;
const FETCH_TIMEOUT_MS = 5000;
const MAX_KEY_SET_BYTES = 1024 * 1024;

export type KeySetLocation = { file: string } | { url: string };

interface Loaded {
  keys: Map<string, KeyObject>;
  ttlSeconds: number;
}

/** The seconds a fetched key set may be kept, from its Cache-Control header. */
export function keySetTtl(cacheControl: string | null): number {
  if (cacheControl === null) return DEFAULT_TTL_S;
  if (/\b(no-store|no-cache)\b/i.test(cacheControl)) return MIN_TTL_S;
  const maxAge = /\bmax-age\s*=\s*"?(\d{1,10})"?/i.exec(cacheControl)?.[1];
  if (maxAge === undefined) return DEFAULT_TTL_S;
  return Math.min(MAX_TTL_S, Math.max(MIN_TTL_S, Number(maxAge)));
}

/** The P-256 keys of a key set document; the ones that are not are skipped, and named in `skipped`. */
export function parseKeySet(text: string): { keys: Map<string, KeyObject>; skipped: string[] } {
  const doc = JSON.parse(text) as { public_keys?: unknown };
  if (!Array.isArray(doc?.public_keys)) throw new Error('not a key set: "public_keys" must be an array');
  const keys = new Map<string, KeyObject>();
  const skipped: string[] = [];
  for (const entry of doc.public_keys as Array<Record<string, unknown>>) {
    const id = entry?.key_identifier;
    const pem = entry?.key;
    if (typeof id !== 'string' || typeof pem !== 'string') {
      skipped.push(typeof id === 'string' ? id : '(no key_identifier)');
      continue;
    }
    try {
      const key = createPublicKey(pem);
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new Error();
      keys.set(id, key);
    } catch {
      skipped.push(id);
    }
  }
  if (keys.size === 0) throw new Error('the key set holds no ECDSA P-256 key');
  return { keys, skipped };
}

export class KeySet {
  private keys: Map<string, KeyObject> | undefined;
  private expiresAt = 0;
  private lastUnknownReload = -Infinity;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly location: KeySetLocation,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The key named `id`, or undefined when the set (reloaded if it may be stale) has none of that name. */
  async key(id: string): Promise<KeyObject | undefined> {
    if (this.keys === undefined || this.now() >= this.expiresAt) await this.reload();
    const key = this.keys!.get(id);
    if (key !== undefined || this.now() - this.lastUnknownReload < UNKNOWN_KEY_RELOAD_S * 1000) return key;
    this.lastUnknownReload = this.now();
    await this.reload();
    return this.keys!.get(id);
  }

  private reload(): Promise<void> {
    // Concurrent reports share one load.
    this.loading ??= this.load().finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async load(): Promise<void> {
    try {
      const { keys, ttlSeconds } = await this.read();
      this.keys = keys;
      this.expiresAt = this.now() + ttlSeconds * 1000;
    } catch (error) {
      this.logger.warn({ err: error, keys: this.describe() }, 'could not load the secret scanning key set');
      if (this.keys === undefined)
        throw unavailable('the key set that verifies leak reports could not be loaded; try again later', error);
      this.expiresAt = this.now() + MIN_TTL_S * 1000;
    }
  }

  private describe(): string {
    return 'file' in this.location ? this.location.file : new URL(this.location.url).origin;
  }

  private async read(): Promise<Loaded> {
    if ('file' in this.location) {
      const { keys, skipped } = parseKeySet(await readFile(this.location.file, 'utf8'));
      this.warnSkipped(skipped);
      return { keys, ttlSeconds: FILE_TTL_S };
    }
    const response = await fetch(this.location.url, {
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      headers: { accept: 'application/json' },
    });
    if (!response.ok) throw new Error(`the key set URL answered ${response.status}`);
    const text = await response.text();
    if (text.length > MAX_KEY_SET_BYTES) throw new Error(`the key set is over ${MAX_KEY_SET_BYTES} bytes`);
    const { keys, skipped } = parseKeySet(text);
    this.warnSkipped(skipped);
    return { keys, ttlSeconds: keySetTtl(response.headers.get('cache-control')) };
  }

  private warnSkipped(skipped: string[]): void {
    if (skipped.length > 0)
      this.logger.warn({ skipped: skipped.slice(0, 20) }, 'secret scanning keys skipped: not ECDSA P-256 public keys');
  }
}
