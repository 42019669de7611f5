import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base32Decode, base32Encode } from '../base32.js';
import { generateTotpSecret, matchTotp, otpauthUri, timeStep, totpCode } from './totp.js';

// RFC 6238 Appendix B, SHA-1 rows: the seed is the ASCII string "12345678901234567890".
const RFC_SEED = Buffer.from('12345678901234567890', 'ascii');
const RFC_VECTORS: Array<[number, string]> = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];

describe('TOTP', () => {
  it('matches the RFC 6238 test vectors (8 digits, SHA-1)', () => {
    for (const [time, code] of RFC_VECTORS) expect(totpCode(RFC_SEED, timeStep(time), 8)).toBe(code);
  });

  it('accepts a code one step either side of now, once per step, and nothing further out', () => {
    const seed = base32Encode(RFC_SEED);
    const now = 1111111111;
    const code = (t: number) => totpCode(RFC_SEED, timeStep(t));
    expect(matchTotp(seed, code(now), now, 0)).toBe(timeStep(now));
    expect(matchTotp(seed, code(now - 30), now, 0)).toBe(timeStep(now) - 1);
    expect(matchTotp(seed, code(now + 30), now, 0)).toBe(timeStep(now) + 1);
    expect(matchTotp(seed, code(now - 60), now, 0)).toBeUndefined();
    expect(matchTotp(seed, code(now + 60), now, 0)).toBeUndefined();
    // Replay: the step was used already.
    expect(matchTotp(seed, code(now), now, timeStep(now))).toBeUndefined();
    expect(matchTotp(seed, '12345', now, 0)).toBeUndefined();
    expect(matchTotp(seed, '１２３４５６', now, 0)).toBeUndefined();
  });

  it('base32 round-trips any bytes (RFC 4648 test vector "foobar" → MZXW6YTBOI)', () => {
    expect(base32Encode(Buffer.from('foobar'))).toBe('MZXW6YTBOI');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) =>
        base32Decode(base32Encode(Buffer.from(bytes))).equals(Buffer.from(bytes)),
      ),
    );
  });

  it('makes 160-bit seeds and an otpauth URI that carries them', () => {
    const seed = generateTotpSecret();
    expect(base32Decode(seed)).toHaveLength(20);
    expect(otpauthUri(seed, 'Cordon', 'ada@example.com')).toBe(
      `otpauth://totp/Cordon:ada%40example.com?secret=${seed}&issuer=Cordon&algorithm=SHA1&digits=6&period=30`,
    );
  });
});
