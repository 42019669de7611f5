/** The gtr kind's settings: what `targets add` may give it, normalised, and each refusal naming its field. */
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../errors.js';
import { gtr } from './gtr.js';

const ENDPOINT = 'https://app.example/oauth/global-token-revocation';

describe('gtr kind: validate', () => {
  let jwk: JWK;
  let publicJwk: JWK;
  beforeAll(async () => {
    const pair = await generateKeyPair('EdDSA', { extractable: true });
    jwk = await exportJWK(pair.privateKey);
    publicJwk = await exportJWK(pair.publicKey);
  });

  const field = (config: unknown, credentials: unknown): string | undefined => {
    try {
      gtr.validate(config, credentials);
      return undefined;
    } catch (error) {
      if (!isAppError(error) || error.code !== 'INVALID_ARGUMENT') throw error;
      return error.metadata?.field;
    }
  };

  it('fills the defaults: email subjects, the endpoint as audience, no trailing slash', () => {
    expect(gtr.validate({ endpoint: `${ENDPOINT}/`, auth: 'bearer' }, { token: 't' })).toEqual({
      config: { endpoint: ENDPOINT, auth: 'bearer', audience: ENDPOINT, subject_format: 'email' },
      credentials: { token: 't' },
    });
    const jwt = gtr.validate(
      { endpoint: ENDPOINT, auth: 'jwt', audience: 'https://app.example', subject_format: 'iss_sub', issuer: 'x' },
      { client_id: 'c', private_jwk: jwk },
    );
    expect(jwt).toEqual({
      config: {
        endpoint: ENDPOINT,
        auth: 'jwt',
        audience: 'https://app.example',
        subject_format: 'iss_sub',
        issuer: 'x',
      },
      credentials: { client_id: 'c', private_jwk: jwk },
    });
    // What validate returns validates again unchanged (the registry stores it, the cache re-creates from it).
    expect(gtr.validate(jwt.config, jwt.credentials)).toEqual(jwt);
  });

  it('refuses what is wrong, naming the field', () => {
    const bearer = { token: 't' };
    expect(field(null, bearer)).toBe('config');
    expect(field({ auth: 'bearer' }, bearer)).toBe('config.endpoint');
    expect(field({ endpoint: 'ftp://x', auth: 'bearer' }, bearer)).toBe('config.endpoint');
    expect(field({ endpoint: 'https://u:p@x/gtr', auth: 'bearer' }, bearer)).toBe('config.endpoint');
    expect(field({ endpoint: ENDPOINT, auth: 'basic' }, bearer)).toBe('config.auth');
    expect(field({ endpoint: ENDPOINT, auth: 'bearer', subject_format: 'phone' }, bearer)).toBe(
      'config.subject_format',
    );
    expect(field({ endpoint: ENDPOINT, auth: 'bearer', subject_format: 'iss_sub' }, bearer)).toBe('config.issuer');
    expect(field({ endpoint: ENDPOINT, auth: 'bearer', extra: 1 }, bearer)).toBe('config.extra');
    expect(field({ endpoint: ENDPOINT, auth: 'bearer' }, { token: '' })).toBe('credentials.token');
    expect(field({ endpoint: ENDPOINT, auth: 'bearer' }, { client_id: 'c', private_jwk: jwk })).toBe('credentials');
    expect(field({ endpoint: ENDPOINT, auth: 'jwt' }, { token: 't' })).toBe('credentials');
    expect(field({ endpoint: ENDPOINT, auth: 'jwt' }, { client_id: 'c', private_jwk: publicJwk })).toBe(
      'credentials.private_jwk',
    );
    expect(field({ endpoint: ENDPOINT, auth: 'jwt' }, { client_id: 'c', private_jwk: { kty: 'oct', d: 'x' } })).toBe(
      'credentials.private_jwk',
    );
    expect(field({ endpoint: ENDPOINT, auth: 'jwt' }, { private_jwk: jwk })).toBe('credentials.client_id');
  });
});
