import { describe, expect, it } from 'vitest';
import { checkNewUser, isEmailAddress } from './validate.js';

describe('email addresses', () => {
  it.each([
    'ann@acme.example',
    'a.b+tag@sub.acme.example',
    "o'brien@x.io",
    'x@a-b.example',
    `${'a'.repeat(64)}@acme.example`,
  ])('accepts %s', (email) => {
    expect(isEmailAddress(email)).toBe(true);
    expect(checkNewUser({ email, display_name: 'x' })).toEqual([]);
  });

  it.each([
    ['a lone surrogate', 'ann\ud800@acme.example'],
    ['a lone surrogate in the domain', 'ann@acme\udfff.example'],
    ['a control character', 'ann\u0001@acme.example'],
    ['a NUL', 'ann\u0000@acme.example'],
    ['a DEL', 'ann\u007f@acme.example'],
    ['a newline', 'ann@acme.example\n'],
    ['a space', 'ann smith@acme.example'],
    ['non-ASCII text', 'zoë@acme.example'],
    ['two @', 'a@b@acme.example'],
    ['no domain dot', 'ann@localhost'],
    ['a hyphen ending a label', 'ann@acme-.example'],
    ['an empty label', 'ann@acme..example'],
    ['a local part over 64', `${'a'.repeat(65)}@acme.example`],
    ['over 254 in all', `a@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.${'e'.repeat(60)}.ff.example`],
    ['quotes', '"ann"@acme.example'],
  ])('refuses %s', (_what, email) => {
    expect(isEmailAddress(email)).toBe(false);
    expect(checkNewUser({ email, display_name: 'x' })).toEqual(['email: expected an email address']);
  });
});
