import type { NewCredentials } from '../auth/credentials.js';
import { otpauthUri } from '../auth/totp.js';

/** A person's new sign-in credentials as the CLI shows them, once. */
export function credentialsJson(email: string, creds: Pick<NewCredentials, 'password' | 'totpSecret'>) {
  return { password: creds.password, totp_secret: creds.totpSecret, totp_uri: otpauthUri(creds.totpSecret, 'Cordon', email) };
}

export function describeCredentials(email: string, creds: Pick<NewCredentials, 'password' | 'totpSecret'>, indent = ''): string {
  const json = credentialsJson(email, creds);
  return [
    `${indent}One-time password: ${json.password}`,
    `${indent}TOTP seed: ${json.totp_secret} (add it to an authenticator app: ${json.totp_uri})`,
    `${indent}Store them now: they are shown once and kept only hashed or encrypted.`,
  ].join('\n');
}
