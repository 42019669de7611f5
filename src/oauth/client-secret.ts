import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Client secrets: 256 random bits, shown once, stored as SHA-256. A slow password hash buys nothing for
 * a secret with this much entropy and would cap the token endpoint; the comparison is constant-time.
 */
export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
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
