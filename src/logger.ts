import pino, { type Logger } from 'pino';
import type { LogLevel } from './config.js';

const SECRET_KEYS = [
  'password',
  'password_hash',
  'passwordHash',
  'ownerCredentials',
  'credentials',
  'totp',
  'totpSecret',
  'totp_secret',
  'session_token',
  'client_secret',
  'access_token',
  'refresh_token',
  'private_key',
];

/**
 * Paths pino blanks out, so that a secret never reaches a log line even by accident: request
 * credentials, and secret-named keys at the top level and two levels down.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers.dpop',
  'res.headers["set-cookie"]',
  ...SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]),
];

export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination ?? pino.destination(2));
}
