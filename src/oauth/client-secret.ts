import { createHash, timingSafeEqual } from 'node:crypto';
import { makeSecret } from '../secret-format.js';

/**
 * Client secrets: 256 random bits, shown once, stored as SHA-256. A slow password hash buys nothing for
 * a secret with this much entropy and would cap the token endpoint; the comparison is constant-time.
 * They are Cordon secrets of kind `cs` (src/secret-format.ts); those made before that format (bare
 * base64url) verify the same way, by their hash, until the app's secret is rotated.
 */
export function generateClientSecret(): string {
  return makeSecret('cs');
}

export function hashClientSecret(secret: string): string {
  return `sha256$${createHash('sha256').update(secret, 'utf8').digest('base64url')}`;
}

export function verifyClientSecret(secret: string, stored: string | null): boolean {
  if (!stored) return false;
  const expected = Buffer.from(stored, 'utf8');
  const actual = Buffer.from(hashClientSecret(secret), 'utf8');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
