/**
 * TOTP (RFC 6238 over RFC 4226 HOTP): HMAC-SHA-1, 30-second steps, 6 digits, which is what every
 * authenticator app reads from an otpauth:// URI. A code is accepted one step either side of now (clock
 * drift, RFC 6238 §5.2), and each step is usable once per user: the caller records the step it accepted.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { base32Decode, base32Encode } from '../base32.js';

export const TOTP_STEP_SECONDS = 30;
const DIGITS = 6;
/** A new seed: 160 bits (RFC 4226 §4 recommends that length for HMAC-SHA-1), base32. */
export function generateTotpSecret(): string {
  return base32Encode(randomBytes(20));
}

/** The HOTP value (RFC 4226 §5.3) of one time step, as `digits` decimal digits. */
export function totpCode(secret: Buffer, step: number, digits = DIGITS): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', secret).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

export function timeStep(unixSeconds: number): number {
  return Math.floor(unixSeconds / TOTP_STEP_SECONDS);
}

/**
 * The step a code belongs to, within one step of `nowSeconds` and after `lastUsedStep`; undefined when
 * it matches none. Every candidate is compared (in constant time), so timing says nothing about which.
 */
export function matchTotp(
  secretBase32: string,
  code: string,
  nowSeconds: number,
  lastUsedStep: number,
): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const secret = base32Decode(secretBase32);
  const now = timeStep(nowSeconds);
  let matched: number | undefined;
  for (const step of [now - 1, now, now + 1]) {
    const equal = timingSafeEqual(Buffer.from(totpCode(secret, step)), Buffer.from(code));
    if (equal && step > lastUsedStep && matched === undefined) matched = step;
  }
  return matched;
}

/** The provisioning URI authenticator apps scan (Key Uri Format). */
export function otpauthUri(secretBase32: string, issuer: string, accountName: string): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(accountName)}`;
  return (
    `otpauth://totp/${label}?secret=${secretBase32}&issuer=${encodeURIComponent(issuer)}&algorithm=SHA1&digits=` +
    `${DIGITS}&period=${TOTP_STEP_SECONDS}`
  );
}
