import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatCheckpoint, InvalidCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint } from './checkpoint.js';
import { generateNoteSigner, InvalidNote, parseVerifierKey, signNote } from './note.js';

const EMPTY_ROOT = createHash('sha256').digest(); // MTH of the empty tree (RFC 6962 §2.1)
const ROOT = Buffer.alloc(32, 0xab);
const ROOT_B64 = ROOT.toString('base64');
const origin = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 40 })
  .map((s) => s.replace(/[\u0000-\u001f]/g, ''))
  .filter((s) => s.length > 0);
const extension = origin;

describe('formatCheckpoint and parseCheckpoint', () => {
  it('writes origin, decimal size and base64 root, one per line', () => {
    expect(formatCheckpoint({ origin: 'cordon.example/audit', size: 0, rootHash: EMPTY_ROOT })).toBe(
      'cordon.example/audit\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n',
    );
    expect(parseCheckpoint(`log\n1234\n${ROOT_B64}\n`)).toEqual({
      origin: 'log',
      size: 1234,
      rootHash: ROOT,
      extensions: [],
    });
  });

  it('round-trip every checkpoint, extension lines included, and text is canonical', () => {
    fc.assert(
      fc.property(
        origin,
        fc.maxSafeNat(),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.array(extension, { maxLength: 3 }),
        (o, size, root, extensions) => {
          const checkpoint = { origin: o, size, rootHash: Buffer.from(root), extensions };
          const text = formatCheckpoint(checkpoint);
          expect(parseCheckpoint(text)).toEqual(checkpoint);
          expect(formatCheckpoint(parseCheckpoint(text))).toBe(text);
        },
      ),
    );
  });

  it('keeps extension lines apart from the tree head', () => {
    const parsed = parseCheckpoint(`log\n5\n${ROOT_B64}\nextension one\nextension two\n`);
    expect(parsed.extensions).toEqual(['extension one', 'extension two']);
    expect(parsed.size).toBe(5);
  });

  it('allows spaces in the origin, as Rekor v1 origins have them', () => {
    expect(parseCheckpoint(`rekor.sigstore.dev - 42\n1\n${ROOT_B64}\n`).origin).toBe('rekor.sigstore.dev - 42');
  });

  it.each([
    ['no trailing newline', `log\n1\n${ROOT_B64}`],
    ['only two lines', 'log\n1\n'],
    ['an empty body', ''],
    ['an empty origin', `\n1\n${ROOT_B64}\n`],
    ['a control character in the origin', `lo\tg\n1\n${ROOT_B64}\n`],
    ['a carriage return line ending', `log\r\n1\r\n${ROOT_B64}\r\n`],
    ['a leading zero', `log\n01\n${ROOT_B64}\n`],
    ['a lone zero padded', `log\n00\n${ROOT_B64}\n`],
    ['a negative size', `log\n-1\n${ROOT_B64}\n`],
    ['a plus sign', `log\n+1\n${ROOT_B64}\n`],
    ['a hex size', `log\n0x10\n${ROOT_B64}\n`],
    ['an exponent', `log\n1e3\n${ROOT_B64}\n`],
    ['a fraction', `log\n1.0\n${ROOT_B64}\n`],
    ['spaces around the size', `log\n 1\n${ROOT_B64}\n`],
    ['an empty size', `log\n\n${ROOT_B64}\n`],
    ['a size above 2^53 - 1', `log\n9007199254740992\n${ROOT_B64}\n`],
    ['a 31-byte root', `log\n1\n${Buffer.alloc(31).toString('base64')}\n`],
    ['a 33-byte root', `log\n1\n${Buffer.alloc(33).toString('base64')}\n`],
    ['an unpadded root', `log\n1\n${ROOT_B64.replace(/=$/, '')}\n`],
    ['a url-safe root', `log\n1\n${Buffer.alloc(32, 0xff).toString('base64url')}=\n`],
    ['non-zero pad bits in the root', `log\n1\n${ROOT_B64.replace(/.=$/, 't=')}\n`],
    ['a hex root', `log\n1\n${ROOT.toString('hex')}\n`],
    ['an empty extension line', `log\n1\n${ROOT_B64}\n\nmore\n`],
  ])('rejects a body with %s', (_, text) => {
    expect(() => parseCheckpoint(text)).toThrow(InvalidCheckpoint);
  });

  it.each([
    ['an empty origin', { origin: '', size: 1, rootHash: ROOT }],
    ['a newline in the origin', { origin: 'a\nb', size: 1, rootHash: ROOT }],
    ['a negative size', { origin: 'log', size: -1, rootHash: ROOT }],
    ['a fractional size', { origin: 'log', size: 1.5, rootHash: ROOT }],
    ['an unsafe size', { origin: 'log', size: 2 ** 53, rootHash: ROOT }],
    ['a 31-byte root', { origin: 'log', size: 1, rootHash: Buffer.alloc(31) }],
    ['an empty extension', { origin: 'log', size: 1, rootHash: ROOT, extensions: [''] }],
  ])('refuses to format %s', (_, checkpoint) => {
    expect(() => formatCheckpoint(checkpoint)).toThrow(InvalidCheckpoint);
  });
});

describe('signCheckpoint and openCheckpoint', () => {
  const log = generateNoteSigner('cordon.example/audit');
  const witness = generateNoteSigner('witness.example');
  const logKey = parseVerifierKey(log.verifierKey);

  it('round-trip through a signed note', () => {
    const note = signCheckpoint({ origin: log.name, size: 8, rootHash: ROOT }, [log, witness]);
    expect(note.startsWith(`${log.name}\n8\n${ROOT_B64}\n\n\u2014 ${log.name} `)).toBe(true);
    expect(openCheckpoint(note, [logKey], { origin: log.name })).toEqual({
      checkpoint: { origin: log.name, size: 8, rootHash: ROOT, extensions: [] },
      verifiedBy: [log.name],
    });
  });

  it('rejects a changed size or a wrong signer', () => {
    const note = signCheckpoint({ origin: log.name, size: 8, rootHash: ROOT }, log);
    expect(() => openCheckpoint(note.replace('\n8\n', '\n9\n'), [logKey])).toThrow(InvalidNote);
    expect(() =>
      openCheckpoint(signCheckpoint({ origin: log.name, size: 8, rootHash: ROOT }, witness), [logKey]),
    ).toThrow(InvalidNote);
  });

  it('rejects a checkpoint for another origin when an origin is expected', () => {
    const note = signCheckpoint({ origin: 'other.example/log', size: 1, rootHash: ROOT }, log);
    expect(openCheckpoint(note, [logKey]).checkpoint.origin).toBe('other.example/log');
    expect(() => openCheckpoint(note, [logKey], { origin: log.name })).toThrow(InvalidCheckpoint);
  });

  it('rejects a correctly signed body that is not a checkpoint', () => {
    expect(() => openCheckpoint(signNote('not a checkpoint\n', log), [logKey])).toThrow(InvalidCheckpoint);
    expect(() => openCheckpoint(signNote(`${log.name}\n01\n${ROOT_B64}\n`, log), [logKey])).toThrow(InvalidCheckpoint);
  });
});
