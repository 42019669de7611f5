import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { onepassword } from './onepassword.js';

const ACCOUNT = 'XLQMR47VZPBKJHSGWNCYFDE3T9';
const CREDENTIALS = { client_id: 'f7f2c1f0-app', client_secret: 'the-secret-value' };

function refusal(config: unknown, credentials: unknown = CREDENTIALS): { field?: string; description: string } {
  try {
    onepassword.validate(config, credentials);
  } catch (error) {
    if (!(error instanceof AppError) || error.code !== 'INVALID_ARGUMENT') throw error;
    expect(error.message).not.toContain('the-secret-value');
    return { field: error.metadata?.field, description: error.description };
  }
  throw new Error('expected a refusal');
}

describe('onepassword target settings', () => {
  it('fills the default version and drops a trailing slash', () => {
    expect(onepassword.validate({ base_url: 'https://api.1password.eu/', account_id: ACCOUNT }, CREDENTIALS)).toEqual({
      config: { base_url: 'https://api.1password.eu', api_version: 'v1', account_id: ACCOUNT },
      credentials: CREDENTIALS,
    });
    const prefixed = { base_url: 'https://gw.example/onepassword//', api_version: 'v1beta1', account_id: ACCOUNT };
    expect(onepassword.validate(prefixed, CREDENTIALS).config).toEqual({
      ...prefixed,
      base_url: 'https://gw.example/onepassword',
    });
  });

  it('takes plain http only on a loopback host', () => {
    for (const host of ['127.0.0.1:8080', 'localhost:3000', '[::1]:9000']) {
      const base_url = `http://${host}`;
      expect(onepassword.validate({ base_url, account_id: ACCOUNT }, CREDENTIALS).config.base_url).toBe(base_url);
    }
    for (const base_url of ['http://api.1password.com', 'http://10.0.0.5', 'ftp://127.0.0.1']) {
      expect(refusal({ base_url, account_id: ACCOUNT })).toEqual({
        field: 'config.base_url',
        description: 'config.base_url: must be an https:// URL (http:// only on a loopback host)',
      });
    }
  });

  it('refuses a base URL that is no URL, holds credentials, a query or a fragment', () => {
    const cases: [string, string][] = [
      ['api.1password.com', 'must be an absolute URL, e.g. https://api.1password.com'],
      ['https://id:pw@api.1password.com', 'must not hold credentials: give them as credentials'],
      ['https://api.1password.com/?region=eu', 'must have no query or fragment'],
      ['https://api.1password.com/#x', 'must have no query or fragment'],
    ];
    for (const [base_url, description] of cases) {
      expect(refusal({ base_url, account_id: ACCOUNT })).toEqual({
        field: 'config.base_url',
        description: `config.base_url: ${description}`,
      });
    }
    expect(refusal({ account_id: ACCOUNT })).toEqual({
      field: 'config.base_url',
      description: 'config.base_url: is required',
    });
  });

  it('refuses an unknown version, a missing or unsafe account id, and unknown settings', () => {
    const base_url = 'https://api.1password.com';
    expect(refusal({ base_url, account_id: ACCOUNT, api_version: 'v2' })).toEqual({
      field: 'config.api_version',
      description: 'config.api_version: must be one of v1, v1beta1',
    });
    expect(refusal({ base_url })).toEqual({
      field: 'config.account_id',
      description: 'config.account_id: is required',
    });
    for (const account_id of ['../admin', 'A/B', 'A?x=1']) {
      expect(refusal({ base_url, account_id }).field).toBe('config.account_id');
    }
    expect(refusal({ base_url, account_id: ACCOUNT, region: 'eu' })).toEqual({
      field: 'config.region',
      description: 'config.region: not a setting of a onepassword target (base_url, api_version, account_id)',
    });
    expect(refusal(null)).toEqual({ field: 'config', description: 'config: must be an object' });
  });

  it('requires client_id and client_secret, and nothing else, without echoing them', () => {
    const config = { base_url: 'https://api.1password.ca', account_id: ACCOUNT };
    expect(refusal(config, { client_id: 'x' })).toEqual({
      field: 'credentials.client_secret',
      description: 'credentials.client_secret: is required',
    });
    expect(refusal(config, { client_secret: 'the-secret-value' })).toEqual({
      field: 'credentials.client_id',
      description: 'credentials.client_id: is required',
    });
    expect(refusal(config, { ...CREDENTIALS, token: 'the-secret-value' }).field).toBe('credentials.token');
    expect(refusal(config, 'the-secret-value')).toEqual({
      field: 'credentials',
      description: 'credentials: must be an object',
    });
  });
});
