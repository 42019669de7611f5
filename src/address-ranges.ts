/**
 * IP addresses and CIDR ranges: the trusted proxies (CORDON_TRUSTED_PROXIES), and the keys that rate
 * limits count addresses under.
 */
import { BlockList, isIP } from 'node:net';

export interface AddressRange {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/**
 * An address in one spelling: IPv4-mapped IPv6 (`::ffff:192.0.2.1`, what a dual-stack socket reports)
 * as plain IPv4, IPv6 in lower case without a zone. Undefined when `text` is no IP address.
 */
export function normalizeAddress(text: string): string | undefined {
  const bare = text.trim().toLowerCase().replace(/%.*$/, '');
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(bare);
  const address = mapped ? mapped[1]! : bare;
  return isIP(address) === 0 ? undefined : address;
}

/** Parses `192.0.2.0/24`, `2001:db8::/32` or a bare address (one host). Undefined when malformed. */
export function parseAddressRange(text: string): AddressRange | undefined {
  const [raw, prefixText, extra] = text.trim().split('/');
  if (extra !== undefined || raw === undefined) return undefined;
  const address = normalizeAddress(raw);
  if (!address) return undefined;
  const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
  const max = family === 'ipv4' ? 32 : 128;
  if (prefixText === undefined) return { address, prefix: max, family };
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return undefined;
  return { address, prefix: Number(prefixText), family };
}

/** A membership test over `ranges` (node's BlockList, which also matches IPv4-mapped IPv6). */
export function addressMatcher(ranges: readonly AddressRange[]): (address: string) => boolean {
  if (ranges.length === 0) return () => false;
  const list = new BlockList();
  for (const range of ranges) list.addSubnet(range.address, range.prefix, range.family);
  return (address) => list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/**
 * The key a per-address limit counts `address` under: an IPv4 address, or the /64 of an IPv6 one (one
 * subscriber usually holds a whole /64, and would otherwise have 2^64 fresh buckets).
 */
export function rateLimitKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const [head = '', tail = ''] = address.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
