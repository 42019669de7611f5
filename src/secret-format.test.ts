/**
 * The secret format scanners rely on: made secrets parse back to their kind; any changed character, a
 * wrong length, alphabet or prefix, and a look-alike with a made-up checksum are refused; the checksum is
 * the documented CRC32 (checked here against an implementation of our own); the published regular
 * expressions find made secrets in text and skip strings of the wrong shape.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateKeyPairSync, sign } from 'node:crypto';
import {
  EVENTS_TOKEN_PATTERN,
  EVENTS_TOKEN_PREFIX,
  eventsTokenHeader,
  makeSecret,
  parseEventsToken,
  maskSecret,
  MAX_SECRET_LENGTH,
  parseSecret,
  SECRET_KINDS,
  SECRET_PATTERN,
  SECRET_PATTERNS,
  secretPatternSource,
  secretPrefix,
  type SecretKind,
} from './secret-format.js';

const KINDS = Object.keys(SECRET_KINDS) as SecretKind[];
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const base62Char = fc.constantFrom(...BASE62);
const kind = fc.constantFrom(...KINDS);

/** CRC-32/ISO-HDLC bit by bit, as a scanner written from the README would compute it. */
function referenceCrc32(text: string): number {
  let crc = 0xffffffff;
  for (const byte of Buffer.from(text, 'utf8')) {
    crc ^= byte;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

const decodeBase62 = (text: string): number => [...text].reduce((n, c) => n * 62 + BASE62.indexOf(c), 0);

/** The secret with character `at` replaced by `by`. */
const replaceAt = (secret: string, at: number, by: string) => secret.slice(0, at) + by + secret.slice(at + 1);

describe('makeSecret and parseSecret', () => {
  it('make secrets of every kind that parse back to that kind, at a fixed length', () => {
    for (const k of KINDS) {
      const secret = makeSecret(k);
      expect(secret).toMatch(new RegExp(`^cordon_${k}_[0-9A-Za-z]{49}$`));
      expect(secret).toHaveLength(secretPrefix(k).length + 49);
      expect(parseSecret(secret)).toEqual({ ok: true, kind: k });
    }
    expect(MAX_SECRET_LENGTH).toBe('cordon_sess_'.length + 49);
  });

  it('end in the base62 CRC32 of everything before it, as the README says', () => {
    for (const k of KINDS) {
      const secret = makeSecret(k);
      expect(decodeBase62(secret.slice(-6))).toBe(referenceCrc32(secret.slice(0, -6)));
    }
    // A fixed vector (computed with Python's zlib.crc32), so that the format cannot drift unnoticed.
    const known = `cordon_cs_${'0'.repeat(42)}13HmKL2`;
    expect(decodeBase62(known.slice(-6))).toBe(3011114136);
    expect(parseSecret(known)).toEqual({ ok: true, kind: 'cs' });
  });

  it('never make the same secret twice, and use the whole alphabet', () => {
    const made = Array.from({ length: 2000 }, () => makeSecret('cs'));
    expect(new Set(made).size).toBe(made.length);
    const used = new Set(made.flatMap((s) => [...s.slice('cordon_cs_'.length, -6)]));
    expect(used.size).toBe(62);
  });

  it('refuse a secret with any one character changed (checksum, or prefix for the kind)', () => {
    fc.assert(
      fc.property(kind, fc.nat(), base62Char, (k, position, by) => {
        const secret = makeSecret(k);
        const at = secretPrefix(k).length + (position % 49);
        fc.pre(secret[at] !== by);
        expect(parseSecret(replaceAt(secret, at, by))).toEqual({ ok: false, problem: 'bad_checksum' });
      }),
      { numRuns: 2000 },
    );
    // Changing the kind changes what the checksum covers, so a secret cannot be passed off as another kind.
    const secret = makeSecret('st');
    expect(parseSecret(secret.replace('cordon_st_', 'cordon_sh_'))).toEqual({ ok: false, problem: 'bad_checksum' });
    expect(parseSecret(secret.replace('cordon_st_', 'cordon_cs_'))).toEqual({ ok: false, problem: 'bad_checksum' });
  });

  it('refuse look-alikes: the right shape with a checksum that does not match', () => {
    fc.assert(
      fc.property(kind, fc.array(base62Char, { minLength: 49, maxLength: 49 }), (k, tail) => {
        const lookAlike = secretPrefix(k) + tail.join('');
        fc.pre(decodeBase62(lookAlike.slice(-6)) !== referenceCrc32(lookAlike.slice(0, -6)));
        expect(parseSecret(lookAlike)).toEqual({ ok: false, problem: 'bad_checksum' });
      }),
      { numRuns: 2000 },
    );
  });

  it('name the problem: prefix, length, alphabet', () => {
    const secret = makeSecret('cs');
    const tail = secret.slice('cordon_cs_'.length);
    const problems: Array<[string, string]> = [
      ['', 'bad_prefix'],
      [tail, 'bad_prefix'],
      [`cdns_${tail}`, 'bad_prefix'],
      [`cordon_xx_${tail}`, 'bad_prefix'],
      [`Cordon_cs_${tail}`, 'bad_prefix'],
      [`cordon_CS_${tail}`, 'bad_prefix'],
      [` ${secret}`, 'bad_prefix'],
      ['cordon_cs_', 'bad_length'],
      [secret.slice(0, -1), 'bad_length'],
      [`${secret}0`, 'bad_length'],
      [`${secret}\n`, 'bad_length'],
      [secret.replace('cordon_cs_', 'cordon_sess_').slice(0, -2), 'bad_length'],
      [replaceAt(secret, 20, '-'), 'bad_charset'],
      [replaceAt(secret, 20, '_'), 'bad_charset'],
      [replaceAt(secret, 58, '='), 'bad_charset'],
      [replaceAt(secret, 30, 'é'), 'bad_charset'],
    ];
    for (const [text, problem] of problems) expect([text, parseSecret(text)]).toEqual([text, { ok: false, problem }]);
  });

  it('do bounded work on any input, however long', () => {
    const huge = `cordon_cs_${'a'.repeat(5_000_000)}`;
    const started = performance.now();
    for (let i = 0; i < 1000; i++) expect(parseSecret(huge)).toEqual({ ok: false, problem: 'bad_length' });
    expect(parseSecret(`cordon_${'s'.repeat(5_000_000)}`)).toEqual({ ok: false, problem: 'bad_prefix' });
    expect(performance.now() - started).toBeLessThan(1000);
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        expect(parseSecret(text).ok).toBe(false);
      }),
    );
  });
});

describe('maskSecret', () => {
  it('shows the prefix and the checksum, never the random body', () => {
    const secret = makeSecret('sess');
    expect(maskSecret(secret)).toBe(`cordon_sess_…${secret.slice(-6)}`);
    expect(maskSecret(secret)).not.toContain(secret.slice(12, -6).slice(0, 8));
    expect(maskSecret(replaceAt(secret, 20, '-'))).toBe('…');
  });
});

describe('the scanner patterns', () => {
  it('find made secrets wherever they sit in text, each kind by its own pattern', () => {
    for (const k of KINDS) {
      const secret = makeSecret(k);
      for (const text of [
        secret,
        `CORDON_SECRET=${secret}\n`,
        `{"client_secret":"${secret}"}`,
        `https://cordon.example/v1/signals?token=${secret}&format=ocsf`,
        `Authorization: Bearer ${secret}`,
        `'${secret}'`,
      ]) {
        expect(SECRET_PATTERN.exec(text)?.[0]).toBe(secret);
        expect(SECRET_PATTERNS[k].exec(text)?.[0]).toBe(secret);
        for (const other of KINDS.filter((o) => o !== k)) expect(SECRET_PATTERNS[other].test(text)).toBe(false);
      }
    }
    const two = [makeSecret('cs'), makeSecret('st')];
    expect(`a ${two[0]} b ${two[1]}`.match(new RegExp(SECRET_PATTERN.source, 'g'))).toEqual(two);
  });

  it('skip strings of the wrong shape', () => {
    const secret = makeSecret('cs');
    const tail = secret.slice('cordon_cs_'.length);
    for (const text of [
      `cordon_xx_${tail}`,
      `cordon_cs_${tail.slice(1)}`,
      `cordon_cs_${tail}0`,
      `cordon_cs_${tail}_x`,
      `xcordon_cs_${tail}`,
      `my_cordon_cs_${tail}`,
      `cordon_cs_${tail.slice(0, 20)}-${tail.slice(21)}`,
      `cdns_${tail}`,
      tail,
    ])
      expect([text, SECRET_PATTERN.test(text)]).toEqual([text, false]);
  });

  it('are the ones the README publishes for gitleaks, trufflehog and GitHub', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(`regex = '''${SECRET_PATTERN.source}'''`);
    expect(readme).toContain(`secret: '${SECRET_PATTERN.source}'`);
    expect(readme).toContain(SECRET_PATTERN.source.replace(/^\\b/, '').replace(/\\b$/, ''));
    for (const k of KINDS) expect(readme).toContain(`| \`${secretPatternSource(k)}\``);
  });
});

describe('events tokens (JWTs that 1Password collectors parse)', () => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  /** An events token as oauth/events-tokens.ts makes one, with any header. */
  const token = (header: (payload: string) => unknown, claims: unknown = { aud: ['h'], jti: 'x'.repeat(36) }) => {
    const payload = b64(claims);
    const input = `${b64(header(payload))}.${payload}`;
    const signature = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
    return `${input}.${signature.toString('base64url')}`;
  };

  it('begin with the fixed 68 characters of their header and carry the CRC32 of their payload', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), fc.string({ maxLength: 200 }), (kid, jti) => {
        const made = token((payload) => eventsTokenHeader(kid.replace(/["\\]/g, ''), payload), { jti });
        expect(made.startsWith(EVENTS_TOKEN_PREFIX)).toBe(true);
        expect(parseEventsToken(made)).toEqual({ ok: true });
        const [header, payload] = made.split('.') as [string, string];
        const { crc } = JSON.parse(Buffer.from(header, 'base64url').toString()) as { crc: string };
        expect(decodeBase62(crc)).toBe(referenceCrc32(payload));
      }),
    );
    expect(EVENTS_TOKEN_PREFIX).toHaveLength(68);
  });

  it('refuse a changed payload, a made-up checksum, and what is no events token', () => {
    const made = token((payload) => eventsTokenHeader('kid-1', payload));
    const [header, payload, signature] = made.split('.') as [string, string, string];
    const other = Buffer.from(JSON.stringify({ aud: ['evil'], jti: 'x'.repeat(36) })).toString('base64url');
    expect(parseEventsToken(`${header}.${other}.${signature}`)).toEqual({ ok: false, problem: 'bad_checksum' });
    const forged = token(() => ({ ...eventsTokenHeader('kid-1', payload), crc: '000000' }));
    expect(parseEventsToken(forged)).toEqual({ ok: false, problem: 'bad_checksum' });
    expect(parseEventsToken(token((p) => ({ alg: 'ES256', typ: 'JWT', kid: 'k', crc: p })))).toEqual({
      ok: false,
      problem: 'bad_prefix',
    });
    expect(parseEventsToken(`${header}.${payload}`)).toEqual({ ok: false, problem: 'bad_charset' });
    expect(parseEventsToken(made + 'A'.repeat(5000))).toEqual({ ok: false, problem: 'bad_length' });
  });

  it('are found by the published pattern, which the README carries', () => {
    const made = token((payload) => eventsTokenHeader('AbC-123_x', payload));
    expect(new RegExp(EVENTS_TOKEN_PATTERN.source).exec(`TOKEN="${made}"\n`)?.[0]).toBe(made);
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(EVENTS_TOKEN_PATTERN.source);
  });
});
