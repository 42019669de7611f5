/**
 * `cordon secrets check`: in process, with no server and no database (no CORDON_* configuration at all):
 * the kind and a masked form for a well-formed secret (exit 0), the problem for anything else (exit 1),
 * the same as JSON, and from standard input; the secret itself is never printed back.
 */
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { eventsTokenHeader, makeSecret } from '../secret-format.js';
import { main } from './main.js';

async function check(args: string[], stdin?: string) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));
  const code = await main(['node', 'cordon', 'secrets', 'check', ...args], {
    stdout,
    stderr,
    env: {},
    ...(stdin === undefined ? {} : { stdin: Readable.from([stdin]) }),
  });
  return { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

describe('cordon secrets check', () => {
  it('names the kind of a well-formed secret, masked, and exits 0', async () => {
    const cases = [
      ['cs', 'OAuth client secret'],
      ['st', 'signal-source URL token'],
      ['sh', 'signal-source HMAC secret'],
      ['sess', 'session token (sign-in, CLI, console)'],
    ] as const;
    for (const [kind, name] of cases) {
      const secret = makeSecret(kind);
      expect(await check([secret])).toEqual({
        code: 0,
        stdout: `well-formed Cordon secret: ${name} (cordon_${kind}_…${secret.slice(-6)})\n`,
        stderr: '',
      });
    }
  });

  it('says what is wrong with anything else, and exits 1', async () => {
    const secret = makeSecret('cs');
    const changed = secret.slice(0, 30) + (secret[30] === 'a' ? 'b' : 'a') + secret.slice(31);
    expect(await check([changed])).toEqual({
      code: 1,
      stdout:
        'not a well-formed Cordon secret: the checksum does not match: a look-alike, or a secret with a ' +
        'character changed\n',
      stderr: '',
    });
    const old = `cdns_${'A'.repeat(43)}`;
    const refused = await check([old]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/^not a well-formed Cordon secret: does not start with a Cordon prefix/);
    expect((await check([secret.slice(0, -1)])).stdout).toContain('is not 49 characters long');
  });

  it('prints JSON with --json, never the secret in full', async () => {
    const secret = makeSecret('st');
    const good = await check([secret, '--json']);
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout)).toEqual({
      well_formed: true,
      kind: 'st',
      masked: `cordon_st_…${secret.slice(-6)}`,
    });
    expect(good.stdout).not.toContain(secret.slice(10, -6));
    const bad = await check(['--json', `${secret.slice(0, 20)}-${secret.slice(21)}`]);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toEqual({ well_formed: false, problem: 'bad_charset' });
    expect(bad.stdout).not.toContain(secret.slice(21, -6));
  });

  it('reads the string from standard input for -, without its line break', async () => {
    const secret = makeSecret('sess');
    expect((await check(['-', '--json'], `${secret}\n`)).stdout).toContain('"kind": "sess"');
    expect((await check(['-'], `${secret}x\n`)).code).toBe(1);
  });

  it('needs its argument', async () => {
    expect((await check([])).code).toBe(2);
  });

  it('checks an events token by its header start and checksum, and shows only its ends', async () => {
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const payload = b64({ aud: ['events.example.com'], jti: 'a'.repeat(36) });
    const token = `${b64(eventsTokenHeader('kid', payload))}.${payload}.${'S'.repeat(86)}`;
    expect(await check([token])).toEqual({
      code: 0,
      stdout: `well-formed Cordon secret: events token (${token.slice(0, 12)}…${token.slice(-6)})\n`,
      stderr: '',
    });
    const lookAlike = `${b64({ ...eventsTokenHeader('kid', payload), crc: 'zzzzzz' })}.${payload}.${'S'.repeat(86)}`;
    const refused = await check([lookAlike, '--json']);
    expect([refused.code, JSON.parse(refused.stdout)]).toEqual([1, { well_formed: false, problem: 'bad_checksum' }]);
  });
});
