import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'; // RFC 4648 base32

/**
 * A new 26-character uppercase identifier (the 1Password form, `^[A-Z0-9]{26}$`): 130 bits of base32
 * over 128 random bits.
 */
export function newId(): string {
  const bytes = randomBytes(17); // 136 bits; the first 130 are used
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 26) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}
