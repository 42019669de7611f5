import { describe, expect, it } from 'vitest';
import { generatePassword, hashSecret, verifySecret } from './passwords.js';

describe('passwords', () => {
  it('hashes with scrypt and a random salt, and verifies only the right secret', async () => {
    const password = generatePassword();
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const [a, b] = await Promise.all([hashSecret(password), hashSecret(password)]);
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain(password);
    expect(await verifySecret(password, a)).toBe(true);
    expect(await verifySecret(`${password}x`, a)).toBe(false);
    expect(await verifySecret(password, a.replace(/\$[^$]+$/, '$AAAA'))).toBe(false);
    expect(await verifySecret(password, 'bcrypt$whatever')).toBe(false);
  });
});
