/**
 * Secrets at rest: AES-256-GCM under the key-encryption key (KEK), with a caller-chosen label as
 * associated data so that a sealed value cannot be moved to another row (a signing key's kid, a user's
 * TOTP seed). The KEK comes from CORDON_KEY_ENCRYPTION_KEY or, embedded, from a 0600 file in the data
 * directory.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { AppError } from './errors.js';

/** Reads the embedded KEK file, creating it (0600) on first use. */
export function readOrCreateKekFile(dataDir: string): Buffer {
  const file = path.join(dataDir, 'kek');
  try {
    const fd = openSync(file, 'wx', 0o600);
    writeSync(fd, randomBytes(32).toString('base64url'));
    closeSync(fd);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const kek = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url');
  if (kek.length !== 32)
    throw new AppError('UNAVAILABLE', { description: `the key-encryption key file ${file} is damaged` });
  return kek;
}

export class Sealer {
  constructor(private readonly kek: Buffer) {}

  /** `v1.iv.tag.ciphertext`, base64url. */
  seal(label: string, plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.kek, iv).setAAD(Buffer.from(label));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', iv, cipher.getAuthTag(), body]
      .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
      .join('.');
  }

  /**
   * An HMAC-SHA256 tag (base64url) over `data` under a key derived from the KEK for `purpose` (HKDF),
   * so that every node sharing the KEK recognises what another made, and nothing else can forge one.
   */
  mac(purpose: string, data: string): string {
    let key = this.macKeys.get(purpose);
    if (!key)
      this.macKeys.set(
        purpose,
        (key = Buffer.from(hkdfSync('sha256', this.kek, Buffer.alloc(0), `cordon mac: ${purpose}`, 32))),
      );
    return createHmac('sha256', key).update(data).digest('base64url');
  }

  private readonly macKeys = new Map<string, Buffer>();

  /** Opens what `seal` made under the same label; anything else (another KEK, label or a tampered value) throws. */
  open(label: string, sealed: string): string {
    const [version, iv, tag, body] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || !body)
      throw new AppError('UNAVAILABLE', { description: `${label}: unknown sealing format` });
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.kek, Buffer.from(iv, 'base64url')).setAAD(
        Buffer.from(label),
      );
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    } catch (error) {
      throw new AppError('UNAVAILABLE', {
        description: `cannot decrypt ${label}: CORDON_KEY_ENCRYPTION_KEY differs from the one it was stored with`,
        cause: error,
      });
    }
  }
}
