/**
 * A leak report's signature: ECDSA P-256 with SHA-256 over the raw body, DER-encoded and then base64 in
 * `Github-Public-Key-Signature`, made with the key named in `Github-Public-Key-Identifier` (GitHub secret
 * scanning partner program).
 */
import { createHash, verify, type KeyObject } from 'node:crypto';

/** The order of P-256's base point: (r, s) and (r, n − s) are both valid signatures of the same body. */
const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const BASE64 = /^[A-Za-z0-9+/]{8,256}={0,2}$/;

/** The signature's bytes, or undefined when the header is not base64 of a plausible length. */
export function decodeSignature(header: string): Buffer | undefined {
  return BASE64.test(header) ? Buffer.from(header, 'base64') : undefined;
}

/** Whether `signature` (DER) is `key`'s over exactly `body`. */
export function verifyReportSignature(key: KeyObject, body: Buffer, signature: Buffer): boolean {
  try {
    return verify('sha256', body, { key, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}

/** The integers of a DER ECDSA signature `SEQUENCE { INTEGER r, INTEGER s }`, or undefined. */
function readDer(signature: Buffer): [bigint, bigint] | undefined {
  if (signature[0] !== 0x30 || signature[1] !== signature.length - 2) return undefined;
  const values: bigint[] = [];
  let at = 2;
  for (let i = 0; i < 2; i++) {
    const length = signature[at + 1];
    if (signature[at] !== 0x02 || length === undefined || at + 2 + length > signature.length) return undefined;
    values.push(BigInt(`0x${signature.subarray(at + 2, at + 2 + length).toString('hex') || '0'}`));
    at += 2 + length;
  }
  return at === signature.length ? [values[0]!, values[1]!] : undefined;
}

/**
 * What identifies a signed report for replay: the SHA-256 hex of its signature, normalised to low s, and its
 * body. ECDSA signatures are malleable, since (r, n − s) verifies as well as (r, s): keying on the signature
 * bytes as sent would let a captured report through again with s flipped.
 */
export function reportReplayHash(signature: Buffer, body: Buffer): string {
  const parsed = readDer(signature);
  const hash = createHash('sha256');
  if (parsed) {
    const [r, s] = parsed;
    const low = s > P256_ORDER / 2n ? P256_ORDER - s : s;
    hash.update(`${r.toString(16)}:${low.toString(16)}:`);
  } else {
    hash.update(signature.toString('hex') + ':');
  }
  return hash.update(body).digest('hex');
}
