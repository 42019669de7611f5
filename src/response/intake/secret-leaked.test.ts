import { describe, expect, it } from 'vitest';
import { mapSignal } from './index.js';

const NOW = new Date('2026-01-02T03:04:05.000Z');
const HASH = 'ab'.repeat(32);
const leak = (secret: unknown, type = 'secret.leaked') => ({ external_id: 'scan-1', type, subject: {}, secret });

describe('a secret.leaked canonical signal', () => {
  it('keeps the secret’s SHA-256 and where it was found as attributes, and when as observed_time', () => {
    const signal = mapSignal(
      'canonical',
      {
        ...leak({ sha256: HASH.toUpperCase(), url: 'https://git.example/r/.env' }),
        observed_time: '2026-01-01T00:00:00Z',
      },
      NOW,
    );
    expect(signal).toMatchObject({
      type: 'secret.leaked',
      subject: {},
      observed_time: '2026-01-01T00:00:00.000Z',
      attributes: { 'secret.sha256': HASH, 'secret.url': 'https://git.example/r/.env' },
    });
  });

  it('refuses it without a SHA-256, with the secret itself, or on another type', () => {
    const field = (payload: unknown) => {
      try {
        mapSignal('canonical', payload, NOW);
        return undefined;
      } catch (error) {
        return (error as { metadata?: { field?: string } }).metadata?.field;
      }
    };
    expect([
      field(leak(undefined)),
      field(leak({ sha256: 'cordon_cs_0123' })),
      field(leak({ sha256: HASH, token: 'cordon_cs_0123' })),
      field(leak({ sha256: HASH }, 'phishing')),
      field(leak({ sha256: HASH })),
    ]).toEqual(['secret', 'secret.sha256', 'secret.token', 'secret', undefined]);
  });
});
