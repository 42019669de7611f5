import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeCanonicalBase64,
  formatVerifierKey,
  generateNoteSigner,
  InvalidNote,
  InvalidNoteKey,
  noteKeyId,
  openNote,
  parseVerifierKey,
  signNote,
  SIG_TYPE_ED25519,
  type InvalidNoteReason,
} from './note.js';

interface SignedNoteExample {
  vkey: string;
  note_text: string;
  signature_line: string;
  expected: { key_id_hex: string; ed25519_verifies: boolean };
}

const example = (
  JSON.parse(readFileSync(new URL('../../test/fixtures/merkle/rfc6962-vectors.json', import.meta.url), 'utf8')) as {
    signed_note_example: SignedNoteExample;
  }
).signed_note_example;
const exampleNote = `${example.note_text}\n${example.signature_line}\n`;

const alice = generateNoteSigner('alice.example/log');
const bob = generateNoteSigner('bob.example/witness');
const aliceKey = parseVerifierKey(alice.verifierKey);
const bobKey = parseVerifierKey(bob.verifierKey);

function expectInvalid(fn: () => unknown, reason: InvalidNoteReason): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidNote);
    expect((error as InvalidNote).reason).toBe(reason);
    return;
  }
  expect.fail(`expected InvalidNote(${reason})`);
}

/** Re-encodes the signature blob of one signature line after `edit` changes its bytes. */
function editSignature(note: string, lineIndex: number, edit: (blob: Buffer) => Buffer): string {
  const split = note.lastIndexOf('\n\n');
  const lines = note.slice(split + 2, -1).split('\n');
  const [prefix, b64] = lines[lineIndex]!.split(/ (?=[^ ]*$)/) as [string, string];
  lines[lineIndex] = `${prefix} ${edit(Buffer.from(b64, 'base64')).toString('base64')}`;
  return `${note.slice(0, split + 2)}${lines.join('\n')}\n`;
}

function flipBit(blob: Buffer, bit: number): Buffer {
  const copy = Buffer.from(blob);
  copy[bit >> 3]! ^= 1 << (bit & 7);
  return copy;
}

describe('the C2SP signed-note example', () => {
  it('recomputes key ID 530d903a from the verifier key', () => {
    const key = parseVerifierKey(example.vkey);
    expect(key.name).toBe('example.com/foo');
    expect(key.keyId.toString(16).padStart(8, '0')).toBe(example.expected.key_id_hex);
    const raw = Buffer.from(example.vkey.split('+')[2]!, 'base64').subarray(1);
    expect(noteKeyId('example.com/foo', SIG_TYPE_ED25519, raw).toString('hex')).toBe('530d903a');
    expect(formatVerifierKey(key.name, key.publicKey)).toBe(example.vkey);
  });

  it('verifies with our verifier, from a string or from bytes', () => {
    const key = parseVerifierKey(example.vkey);
    expect(example.expected.ed25519_verifies).toBe(true);
    expect(openNote(exampleNote, [key])).toEqual({ text: example.note_text, verifiedBy: ['example.com/foo'] });
    expect(openNote(Buffer.from(exampleNote, 'utf8'), [key]).text).toBe(example.note_text);
  });

  it('is rejected when one bit of the text changes', () => {
    const key = parseVerifierKey(example.vkey);
    expectInvalid(
      () => openNote(exampleNote.replace('example message', 'example messagd'), [key]),
      'signature-invalid',
    );
  });
});

describe('parseVerifierKey', () => {
  it('round-trips any name and key, including keys whose base64 holds "+"', () => {
    const name = fc.stringMatching(/^[a-z0-9./_-]{1,40}$/);
    fc.assert(
      fc.property(name, fc.uint8Array({ minLength: 32, maxLength: 32 }), (n, raw) => {
        const vkey =
          `${n}+${noteKeyId(n, 1, raw).toString('hex')}+` + `${Buffer.concat([Buffer.of(1), raw]).toString('base64')}`;
        const key = parseVerifierKey(vkey);
        expect(key.name).toBe(n);
        expect(formatVerifierKey(n, key.publicKey)).toBe(vkey);
      }),
    );
  });

  it.each([
    ['no separators', 'example.com/foo'],
    ['empty name', '+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k'],
    ['space in name', 'example.com/ foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k'],
    ['short key ID', 'example.com/foo+530d903+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k'],
    ['wrong key ID', 'example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k'],
    ['other name, same key', 'example.com/bar+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k'],
    ['flipped key bit', 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2l'],
    ['not base64', 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2*'],
    ['url-safe base64', 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k'.replace('A', '-')],
    [
      'ECDSA type byte',
      `example.com/foo+530d903a+${Buffer.concat([Buffer.of(2), Buffer.alloc(32)]).toString('base64')}`,
    ],
    ['31-byte key', `example.com/foo+530d903a+${Buffer.concat([Buffer.of(1), Buffer.alloc(31)]).toString('base64')}`],
  ])('rejects %s', (_, text) => {
    expect(() => parseVerifierKey(text)).toThrow(InvalidNoteKey);
  });
});

describe('signNote and openNote', () => {
  it('round-trip any valid text', () => {
    const line = fc.string({ unit: 'grapheme', maxLength: 30 }).map((s) => s.replace(/[\u0000-\u001f]/g, ''));
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 5 }), (lines) => {
        const text = `${lines.join('\n')}\n`;
        const note = signNote(text, alice);
        expect(openNote(note, [aliceKey])).toEqual({ text, verifiedBy: [alice.name] });
      }),
      { numRuns: 50 },
    );
  });

  it('writes one em-dash line per signer and reports each known signer', () => {
    const note = signNote('hello\n', [alice, bob]);
    const lines = note.split('\n');
    expect(lines.slice(0, 2)).toEqual(['hello', '']);
    expect(lines[2]).toMatch(/^\u2014 alice\.example\/log [A-Za-z0-9+/]{91}=$/); // 4 + 64 bytes
    expect(lines[3]!.startsWith('\u2014 bob.example/witness ')).toBe(true);
    expect(openNote(note, [aliceKey, bobKey]).verifiedBy).toEqual([alice.name, bob.name]);
    expect(openNote(note, [bobKey]).verifiedBy).toEqual([bob.name]); // alice is unknown, so ignored
  });

  it('keeps blank lines inside the text: the signatures start after the last one', () => {
    const text = 'a\n\nb\n\n';
    expect(openNote(signNote(text, alice), [aliceKey]).text).toBe(text);
  });

  it('rejects any flipped bit of the 64-byte signature', () => {
    const note = signNote('tree head\n', alice);
    for (let bit = 32; bit < 32 + 512; bit += 7) {
      expectInvalid(
        () =>
          openNote(
            editSignature(note, 0, (b) => flipBit(b, bit)),
            [aliceKey],
          ),
        'signature-invalid',
      );
    }
  });

  it('ignores a signature whose key ID does not match, so the note is unverified', () => {
    const note = signNote('tree head\n', alice);
    expectInvalid(
      () =>
        openNote(
          editSignature(note, 0, (b) => flipBit(b, 0)),
          [aliceKey],
        ),
      'unverified',
    );
  });

  it('rejects a note signed only by unknown keys', () => {
    expectInvalid(() => openNote(signNote('x\n', [alice, bob]), [parseVerifierKey(example.vkey)]), 'unverified');
  });

  it('rejects a note whose known key signature fails even when another verifies', () => {
    const note = editSignature(signNote('x\n', [alice, bob]), 0, (b) => flipBit(b, 40));
    expectInvalid(() => openNote(note, [aliceKey, bobKey]), 'signature-invalid');
    expect(openNote(note, [bobKey]).verifiedBy).toEqual([bob.name]);
  });

  it('rejects a verifier with the right name and key ID but another public key', () => {
    const impostor = { ...aliceKey, publicKey: bob.publicKey };
    expectInvalid(() => openNote(signNote('x\n', alice), [impostor]), 'signature-invalid');
  });

  it('rejects a short signature by a known key', () => {
    const note = signNote('x\n', alice);
    expectInvalid(
      () =>
        openNote(
          editSignature(note, 0, (b) => b.subarray(0, 67)),
          [aliceKey],
        ),
      'signature-invalid',
    );
    expectInvalid(
      () =>
        openNote(
          editSignature(note, 0, (b) => b.subarray(0, 4)),
          [aliceKey],
        ),
      'malformed-signature-line',
    );
  });

  it('rejects a repeated signature line by the same key when the repeat is bad', () => {
    const note = signNote('x\n', [alice, alice]);
    expect(openNote(note, [aliceKey]).verifiedBy).toEqual([alice.name]);
    expectInvalid(
      () =>
        openNote(
          editSignature(note, 1, (b) => flipBit(b, 100)),
          [aliceKey],
        ),
      'signature-invalid',
    );
  });

  it('accepts 16 signatures and refuses more than 100 lines', () => {
    const signers = Array.from({ length: 16 }, (_, i) => generateNoteSigner(`w${i}.example`));
    const note = signNote('x\n', signers);
    expect(
      openNote(
        note,
        signers.map((s) => parseVerifierKey(s.verifierKey)),
      ).verifiedBy,
    ).toHaveLength(16);
    const line = note.split('\n')[2]!;
    expectInvalid(() => openNote(`x\n\n${`${line}\n`.repeat(101)}`, [aliceKey]), 'too-many-signatures');
  });

  it.each([
    ['a hyphen instead of the em dash', (n: string) => n.replace('\u2014', '-')],
    ['no space after the em dash', (n: string) => n.replace('\u2014 ', '\u2014')],
    ['no signature after the name', (n: string) => n.replace(/ [^ ]+\n$/, '\n')],
    ['two spaces before the signature', (n: string) => n.replace(/ ([^ ]+)\n$/, '  $1\n')],
    ['bad base64', (n: string) => n.replace(/.\n$/, '*\n')],
    ['non-canonical base64 padding bits', (n: string) => n.replace(/.=\n$/, 'B=\n')],
  ])('rejects a signature line with %s', (_, mutate) => {
    const note = signNote('x\n', alice);
    expect(mutate(note)).not.toBe(note);
    expectInvalid(() => openNote(mutate(note), [aliceKey]), 'malformed-signature-line');
  });

  it.each([
    ['no blank line', (n: string) => n.replace('\n\n', '\n'), 'missing-signature-block'],
    ['no final newline', (n: string) => n.slice(0, -1), 'missing-signature-block'],
    ['a trailing blank line', (n: string) => `${n}\n`, 'missing-signature-block'],
    ['a carriage return in the text', (n: string) => n.replace('x\n', 'x\r\n'), 'malformed-text'],
    ['a tab in the text', (n: string) => n.replace('x\n', 'x\ty\n'), 'malformed-text'],
    ['a NUL in the signature block', (n: string) => n.replace(/\n$/, '\u0000\n'), 'malformed-text'],
    ['a lone surrogate', (n: string) => n.replace('x\n', 'x\ud800\n'), 'malformed-text'],
  ] as const)('rejects a note with %s', (_, mutate, reason) => {
    expectInvalid(() => openNote(mutate(signNote('x\n', alice)), [aliceKey]), reason);
  });

  it('rejects bytes that are not UTF-8 and keeps a leading BOM as signed', () => {
    const bytes = Buffer.from(signNote('x\n', alice), 'utf8');
    expectInvalid(() => openNote(Buffer.concat([Buffer.of(0xff), bytes]), [aliceKey]), 'malformed-text');
    const withBom = signNote('\ufeffx\n', alice);
    expect(openNote(Buffer.from(withBom, 'utf8'), [aliceKey]).text).toBe('\ufeffx\n');
  });

  it.each([
    ['no final newline', 'x'],
    ['empty text', ''],
    ['a control character', 'x\u0007\n'],
    ['a lone surrogate', '\udc00\n'],
  ])('refuses to sign a text with %s', (_, text) => {
    expectInvalid(() => signNote(text, alice), 'malformed-text');
  });

  it('refuses bad signer names and non-Ed25519 keys', () => {
    expect(() => signNote('x\n', { ...alice, name: 'a+b' })).toThrow(InvalidNoteKey);
    expect(() => signNote('x\n', { ...alice, name: 'a b' })).toThrow(InvalidNoteKey);
    expect(() =>
      signNote('x\n', { name: 'p256', privateKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey }),
    ).toThrow(InvalidNoteKey);
    expect(() => signNote('x\n', [])).toThrow(InvalidNoteKey);
  });

  it('derives the signer key ID from the private key', () => {
    const key = parseVerifierKey(formatVerifierKey(alice.name, createPublicKey(alice.privateKey)));
    expect(key.keyId).toBe(aliceKey.keyId);
  });
});

describe('decodeCanonicalBase64', () => {
  it('accepts exactly the canonical encodings', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 70 }), (bytes) => {
        const text = Buffer.from(bytes).toString('base64');
        expect(decodeCanonicalBase64(text)).toEqual(Buffer.from(bytes));
        if (text.endsWith('=')) expect(decodeCanonicalBase64(text.replace(/=+$/, ''))).toBeUndefined();
      }),
    );
    for (const bad of ['', 'QQ', 'QR==', 'Q===', ' QQ==', 'QQ==\n', 'a-b_'])
      expect(decodeCanonicalBase64(bad)).toBeUndefined();
  });
});
