import pino, { type Logger } from 'pino';
import type { LogLevel } from './config.js';

/** Paths pino blanks out: secrets never reach a log line, even by accident. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["dpop"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.password_hash',
  '*.client_secret',
  '*.access_token',
  '*.refresh_token',
  '*.ownerPassword',
  '*.owner_password',
];

export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination ?? pino.destination(2));
}
