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

/**
 * A secret can ride in a query string (a Splunk source's `?token=`, which Splunk cannot send otherwise):
 * the value of every parameter named like a token or secret is blanked in logged URLs.
 */
export function redactUrl(url: string): string {
  return url.replace(/([?&][^=&#]*(?:token|secret)[^=&#]*=)[^&#]*/gi, '$1[redacted]');
}

type LoggedRequest = {
  raw?: unknown;
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  clientAddress?: string;
  socket?: { remotePort?: number };
};

/**
 * Fastify's request fields (Fastify takes this serializer over its own), with the URL redacted; a plain
 * object logged as `req` keeps its fields, with the same redaction.
 */
const serializers = {
  req: (req: LoggedRequest) => {
    const url = req.url === undefined ? undefined : redactUrl(req.url);
    if (req.raw === undefined) return { ...req, url };
    // The client's address as believed behind a trusted proxy; the proxy's own when it differs.
    const remoteAddress = req.clientAddress ?? req.ip;
    return {
      method: req.method,
      url,
      host: req.host,
      remoteAddress,
      ...(remoteAddress !== req.ip ? { peerAddress: req.ip } : {}),
      remotePort: req.socket?.remotePort,
    };
  },
};

export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino(
    { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, serializers },
    destination ?? pino.destination(2),
  );
}
