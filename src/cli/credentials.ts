import { credentialsView, type NewCredentials } from '../auth/credentials.js';

/** New credentials for a person to read, once. */
export function describeCredentials(email: string, creds: Pick<NewCredentials, 'password' | 'totpSecret'>, indent = ''): string {
  const view = credentialsView(email, creds);
  return [
    `${indent}One-time password: ${view.password}`,
    `${indent}TOTP seed: ${view.totp_secret} (add it to an authenticator app: ${view.totp_uri})`,
    `${indent}Store them now: they are shown once and kept only hashed or encrypted.`,
  ].join('\n');
}
