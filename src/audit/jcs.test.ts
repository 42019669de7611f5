import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, CanonicalJsonError } from './jcs.js';

describe('canonicalJson: RFC 8785 examples', () => {
  it('canonicalises the §3.2.2 sample (literals, numbers, string escapes)', () => {
    const input = String.raw`{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }`;
    expect(canonicalJson(JSON.parse(input))).toBe(
      String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],` +
        String.raw`"string":"€$\u000f\nA'B\"\\\\\"/"}`,
    );
  });

  it('sorts member names by UTF-16 code units (§3.2.3)', () => {
    const input = String.raw`{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }`;
    const expected =
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
      '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}';
    expect(canonicalJson(JSON.parse(input))).toBe(expected);
  });

  // Appendix B: IEEE 754 bit patterns and their canonical text.
  it.each([
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ])('serialises the double %s as %s', (bits, text) => {
    expect(canonicalJson(Buffer.from(bits, 'hex').readDoubleBE(0))).toBe(text);
  });

  it.each([
    ['7fffffffffffffff', 'NaN'],
    ['7ff0000000000000', 'Infinity'],
    ['fff0000000000000', '-Infinity'],
  ])('refuses the double %s (%s)', (bits) => {
    expect(() => canonicalJson(Buffer.from(bits, 'hex').readDoubleBE(0))).toThrow(CanonicalJsonError);
  });
});

describe('canonicalJson: values outside JSON', () => {
  it.each([
    ['undefined', undefined, ''],
    ['a function', () => 1, ''],
    ['a symbol', Symbol('s'), ''],
    ['a bigint', 1n, ''],
    ['a Date', new Date(0), ''],
    ['a Map', new Map(), ''],
    ['a Buffer', Buffer.from('x'), ''],
    ['a boxed number', Object(1) as unknown, ''],
    ['a class instance', new (class Event {})(), ''],
    ['an undefined member', { a: { b: undefined } }, '/a/b'],
    ['a function member', { toJSON: () => 'x' }, '/toJSON'],
    ['an undefined element', [1, undefined], '/1'],
    // eslint-disable-next-line no-sparse-arrays -- the case is the hole
    ['a sparse array', [1, , 3], '/1'],
    ['a symbol-keyed member', { [Symbol('k')]: 1 }, ''],
    ['a lone surrogate in a string', { 'a/b': '\ud800' }, '/a~1b'],
    ['a lone surrogate in a name', { '\udc00': 1 }, '/\udc00'],
    ['NaN in an array', [NaN], '/0'],
  ])('refuses %s and points at it', (_, value, path) => {
    try {
      canonicalJson(value);
    } catch (error) {
      expect(error).toBeInstanceOf(CanonicalJsonError);
      expect((error as CanonicalJsonError).path).toBe(path);
      return;
    }
    expect.fail('expected CanonicalJsonError');
  });

  it('refuses cycles but allows the same object twice', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(CanonicalJsonError);
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: [shared] })).toBe('{"a":{"x":1},"b":[{"x":1}]}');
  });

  it('accepts null-prototype objects and a "__proto__" member name', () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { b: 1, a: 2 });
    expect(canonicalJson(bare)).toBe('{"a":2,"b":1}');
    expect(canonicalJson(JSON.parse('{"__proto__":{"z":1},"a":null}'))).toBe('{"__proto__":{"z":1},"a":null}');
  });
});

describe('canonicalJson: properties', () => {
  const json = fc.jsonValue({ stringUnit: 'binary', maxDepth: 4 });

  it('is a fixed point of parse and canonicalise', () => {
    fc.assert(
      fc.property(json, (value) => {
        const text = canonicalJson(value);
        expect(canonicalJson(JSON.parse(text))).toBe(text);
      }),
    );
  });

  it('parses back to the same value, -0 aside, and has no whitespace outside strings', () => {
    fc.assert(
      fc.property(json, (value) => {
        const text = canonicalJson(value);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
        expect(text.replace(/"(?:[^"\\]|\\.)*"/g, '')).not.toMatch(/\s/);
      }),
    );
  });

  it('does not depend on the order members were inserted', () => {
    const entries = fc.uniqueArray(fc.tuple(fc.string({ unit: 'binary' }), json), {
      selector: ([name]) => name,
      maxLength: 8,
    });
    const permuted = entries.chain((list) =>
      fc.tuple(fc.constant(list), fc.shuffledSubarray(list, { minLength: list.length, maxLength: list.length })),
    );
    fc.assert(
      fc.property(permuted, ([list, shuffled]) => {
        expect(canonicalJson(Object.fromEntries(shuffled))).toBe(canonicalJson(Object.fromEntries(list)));
      }),
    );
  });
});
