import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { reportReplayHash, verifyReportSignature } from './signature.js';

const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/** The same signature with s replaced by n − s: as valid, other bytes. */
function flipS(der: Buffer): Buffer {
  const rLength = der[3]!;
  const r = der.subarray(4, 4 + rLength);
  const sLength = der[5 + rLength]!;
  const s = BigInt(`0x${der.subarray(6 + rLength, 6 + rLength + sLength).toString('hex')}`);
  let hex = (N - s).toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let flipped = Buffer.from(hex, 'hex');
  if (flipped[0]! >= 0x80) flipped = Buffer.concat([Buffer.from([0]), flipped]);
  const body = Buffer.concat([Buffer.from([2, r.length]), r, Buffer.from([2, flipped.length]), flipped]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

describe('report signatures', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const body = Buffer.from('[{"token":"x","type":"t"}]');

  it('verify over the exact body only', () => {
    const signature = sign('sha256', body, privateKey);
    expect(verifyReportSignature(publicKey, body, signature)).toBe(true);
    expect(verifyReportSignature(publicKey, Buffer.concat([body, Buffer.from(' ')]), signature)).toBe(false);
    expect(verifyReportSignature(publicKey, body, Buffer.from('not a signature'))).toBe(false);
  });

  it('identify a replay with s flipped as the same report, and a new signature as another', () => {
    const signature = sign('sha256', body, privateKey);
    const flipped = flipS(signature);
    expect(flipped.equals(signature)).toBe(false);
    expect(verifyReportSignature(publicKey, body, flipped)).toBe(true);
    expect(reportReplayHash(flipped, body)).toBe(reportReplayHash(signature, body));
    expect(reportReplayHash(sign('sha256', body, privateKey), body)).not.toBe(reportReplayHash(signature, body));
  });
});
