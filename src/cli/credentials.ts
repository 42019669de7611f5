import type { NewCredentials } from '../directory/credentials.js';
import { credentialsView } from '../http/views/auth.js';

/**
 * New credentials for a person to read, once. The password is generated, so it is good for one thing:
 * signing in to choose another (the server refuses everything else until then).
 */
export function describeCredentials(
  email: string,
  creds: Pick<NewCredentials, 'password' | 'totpSecret'>,
  indent = '',
): string {
  const view = credentialsView(email, creds);
  return [
    `${indent}Password:  ${view.password}  (generated: the first sign-in must change it, with \`npx cordon passwd\`)`,
    `${indent}TOTP seed: ${view.totp_secret}  (add it to an authenticator app: ${view.totp_uri})`,
    `${indent}Store them now: they are shown once and kept only hashed or encrypted.`,
  ].join('\n');
}
