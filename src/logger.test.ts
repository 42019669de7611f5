import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, redactUrl } from './logger.js';

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
    logger.info(
      {
        password: 'top-secret-1',
        user: { password_hash: 'scrypt$top-secret-2' },
        app: { creds: { client_secret: 'top-secret-3' } },
      },
      'creating',
    );
    logger.info(
      {
        req: {
          headers: {
            authorization: 'Bearer top-secret-4',
            cookie: 'sid=top-secret-5',
            dpop: 'top-secret-6',
            accept: 'application/json',
          },
        },
      },
      'request',
    );
    const out = lines.join('');
    expect(out).not.toMatch(/top-secret/);
    expect(out.match(/\[redacted\]/g)).toHaveLength(6);
    expect(out).toContain('application/json');
  });

  it('blanks token and secret parameters in logged URLs', () => {
    expect(redactUrl('/v1/x/signals?token=cdnt_abc&format=ocsf')).toBe('/v1/x/signals?token=[redacted]&format=ocsf');
    expect(redactUrl('/a?page_token=p1&client_secret=s&x=1#frag')).toBe(
      '/a?page_token=[redacted]&client_secret=[redacted]&x=1#frag',
    );
    expect(redactUrl('/plain/path')).toBe('/plain/path');
  });
});
