import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

describe('logger', () => {
  it('blanks secrets at the top level, nested, and in request headers', () => {
    const lines: string[] = [];
    const logger = createLogger(
      'info',
      new Writable({
        write(chunk, _enc, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    logger.info({ password: 'top-secret-1', user: { password_hash: 'scrypt$top-secret-2' }, app: { creds: { client_secret: 'top-secret-3' } } }, 'creating');
    logger.info({ req: { headers: { authorization: 'Bearer top-secret-4', cookie: 'sid=top-secret-5', dpop: 'top-secret-6', accept: 'application/json' } } }, 'request');
    const out = lines.join('');
    expect(out).not.toMatch(/top-secret/);
    expect(out.match(/\[redacted\]/g)).toHaveLength(6);
    expect(out).toContain('application/json');
  });
});
