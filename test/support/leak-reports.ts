/**
 * A code host for leak reports (POST /v1/secret-scanning/reports), as GitHub's secret scanning partner
 * program sends them: a P-256 key set, published as JSON, and reports signed with it over the raw body.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

export interface CodeHostKey {
  id: string;
  privateKey: KeyObject;
  pem: string;
}

export function makeCodeHostKey(id: string): CodeHostKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { id, privateKey, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** The key set document of `keys`, in GitHub's format. */
export const keySetDocument = (keys: CodeHostKey[]) =>
  JSON.stringify({
    public_keys: keys.map((key, i) => ({ key_identifier: key.id, key: key.pem, is_current: i === 0 })),
  });

/** The base64 DER ECDSA P-256 SHA-256 signature of `body` by `key`. */
export const signReport = (key: CodeHostKey, body: string | Buffer) =>
  sign('sha256', Buffer.from(body), key.privateKey).toString('base64');

export const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

/** A match of a report, found in public code. */
export const match = (token: string, type = 'cordon_secret') => ({
  token,
  type,
  url: 'https://github.com/octo/app/blob/main/.env',
  source: 'content',
});

export interface ReportOptions {
  key?: CodeHostKey | undefined;
  /** The signature to send instead of the body's (a forged one, one of another body). */
  signature?: string;
  keyId?: string;
}

/** Posts `body` (an array, or raw text) to the report endpoint, signed by `key` unless told otherwise. */
export function postReport(server: FastifyInstance, body: unknown, options: ReportOptions = {}) {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.key) {
    headers['github-public-key-identifier'] = options.keyId ?? options.key.id;
    headers['github-public-key-signature'] = options.signature ?? signReport(options.key, payload);
  }
  return server.inject({ method: 'POST', url: '/v1/secret-scanning/reports', headers, payload });
}
