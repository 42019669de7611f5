import { randomBytes } from 'node:crypto';
import { base32Encode } from './base32.js';

/**
 * A new 26-character uppercase identifier (the 1Password form, `^[A-Z0-9]{26}$`): the first 130 bits of
 * 136 random bits, in base32.
 */
export function newId(): string {
  return base32Encode(randomBytes(17)).slice(0, 26);
}
