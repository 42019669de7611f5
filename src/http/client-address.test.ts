import { describe, expect, it } from 'vitest';
import { addressMatcher, parseAddressRange, rateLimitKey } from '../address-ranges.js';
import { forwardedHops, resolveClientAddress } from './client-address.js';

const trusted = addressMatcher(['127.0.0.1', '10.0.0.0/8', '2001:db8:ffff::/48'].map((r) => parseAddressRange(r)!));

describe('client address', () => {
  it('is the peer when the peer is not a trusted proxy, whatever the headers say', () => {
    expect(
      resolveClientAddress('192.0.2.9', { 'x-forwarded-for': '203.0.113.7', forwarded: 'for=203.0.113.7' }, trusted),
    ).toBe('192.0.2.9');
    expect(resolveClientAddress('::ffff:192.0.2.9', {}, trusted)).toBe('192.0.2.9');
  });

  it('is the right-most hop that is not a trusted proxy, from X-Forwarded-For or Forwarded', () => {
    // The client wrote 198.51.100.66 itself: only what the proxies appended counts.
    expect(
      resolveClientAddress('127.0.0.1', { 'x-forwarded-for': '198.51.100.66, 203.0.113.7, 10.1.2.3' }, trusted),
    ).toBe('203.0.113.7');
    expect(
      resolveClientAddress(
        '::ffff:127.0.0.1',
        { forwarded: 'for=198.51.100.66, for="[2001:DB8::7]:4711";proto=https, for=10.1.2.3' },
        trusted,
      ),
    ).toBe('2001:db8::7');
    expect(
      resolveClientAddress('127.0.0.1', { forwarded: 'proto=https;for="203.0.113.7:8443";by=10.0.0.1' }, trusted),
    ).toBe('203.0.113.7');
    // Every hop a trusted proxy: the left-most is the client (a proxy calling on its own behalf).
    expect(resolveClientAddress('127.0.0.1', { 'x-forwarded-for': '10.9.9.9, 10.1.2.3' }, trusted)).toBe('10.9.9.9');
    // No header: the proxy itself.
    expect(resolveClientAddress('127.0.0.1', {}, trusted)).toBe('127.0.0.1');
  });

  it('stops at the proxy that could not name its client, and at the proxy when the two headers disagree', () => {
    expect(
      resolveClientAddress('127.0.0.1', { forwarded: 'for=203.0.113.7, for=unknown, for=10.1.2.3' }, trusted),
    ).toBe('10.1.2.3');
    expect(resolveClientAddress('127.0.0.1', { 'x-forwarded-for': '203.0.113.7, not-an-address' }, trusted)).toBe(
      '127.0.0.1',
    );
    expect(
      resolveClientAddress('127.0.0.1', { 'x-forwarded-for': '203.0.113.7', forwarded: 'for=198.51.100.66' }, trusted),
    ).toBe('127.0.0.1');
    expect(
      resolveClientAddress('127.0.0.1', { 'x-forwarded-for': '203.0.113.7', forwarded: 'for=203.0.113.7' }, trusted),
    ).toBe('203.0.113.7');
  });

  it('reads quoted Forwarded values with commas and semicolons inside', () => {
    expect(forwardedHops('for="_a,b;c";by=x, For=192.0.2.1;proto=http, by=10.0.0.1')).toEqual([
      undefined,
      '192.0.2.1',
      undefined,
    ]);
  });

  it('parses ranges and keys IPv6 limits by /64', () => {
    expect(parseAddressRange('10.0.0.0/8')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseAddressRange('::1')).toEqual({ address: '::1', prefix: 128, family: 'ipv6' });
    for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0.0/8/1', '10.0.0/8', '::/129', '10.0.0.0/-1'])
      expect(parseAddressRange(bad), bad).toBeUndefined();
    expect(rateLimitKey('203.0.113.7')).toBe('203.0.113.7');
    expect(rateLimitKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(rateLimitKey('2001:db8::7')).toBe('2001:db8:0:0::/64');
    expect(rateLimitKey('::1')).toBe('0:0:0:0::/64');
  });
});
