/**
 * The address a request comes from, as every rate limit, refusal tally and audit entry sees it
 * (`request.clientAddress`). It is the peer's address, unless the peer is a trusted proxy
 * (CORDON_TRUSTED_PROXIES): then the `Forwarded` (RFC 7239) and `X-Forwarded-For` hops are walked from
 * the right, past trusted proxies, and the first hop that is not one is the client. Everything left of
 * it was written by the client and proves nothing.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { normalizeAddress } from '../address-ranges.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The believed client address (see client-address.ts); `ip` stays the peer's. */
    readonly clientAddress: string;
  }
}

/** Hops looked at, from the right: more than any real chain of proxies has. */
const MAX_HOPS = 32;

/**
 * The hops of a `Forwarded` header, left to right: each element's `for=` as an address, undefined for
 * `unknown`, obfuscated (`_hidden`) or malformed nodes. Commas and semicolons inside quoted strings do
 * not split.
 */
export function forwardedHops(header: string): Array<string | undefined> {
  const hops: Array<string | undefined> = [];
  let pairs: string[] = [];
  let current = '';
  let quoted = false;
  const endElement = () => {
    pairs.push(current);
    const forPair = pairs.map((p) => p.trim()).find((p) => /^for\s*=/i.test(p));
    hops.push(forPair === undefined ? undefined : nodeAddress(forPair.replace(/^for\s*=\s*/i, '')));
    pairs = [];
    current = '';
  };
  for (let i = 0; i < header.length; i++) {
    const char = header[i]!;
    if (quoted) {
      if (char === '\\' && i + 1 < header.length) current += header[++i];
      else if (char === '"') quoted = false;
      else current += char;
    } else if (char === '"') quoted = true;
    else if (char === ';') {
      pairs.push(current);
      current = '';
    } else if (char === ',') endElement();
    else current += char;
  }
  endElement();
  return hops;
}

/** The hops of an `X-Forwarded-For` header, left to right. */
export function xForwardedForHops(header: string): Array<string | undefined> {
  return header.split(',').map(nodeAddress);
}

/** A node as proxies write it (`192.0.2.1`, `192.0.2.1:8443`, `[2001:db8::1]:8443`, `2001:db8::1`) as an address. */
function nodeAddress(node: string): string | undefined {
  const text = node.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed) return normalizeAddress(bracketed[1]!);
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(text);
  return normalizeAddress(withPort ? withPort[1]! : text);
}

/**
 * Walks `hops` from the right, starting at the trusted `peer`: the first hop that is not a trusted proxy
 * is the client. A hop a trusted proxy could not name (unknown, obfuscated) stops the walk at that proxy;
 * when every hop is trusted, the left-most is.
 */
function rightmostUntrusted(
  hops: Array<string | undefined>,
  peer: string,
  isTrusted: (address: string) => boolean,
): string {
  let believed = peer;
  for (const hop of hops.slice(-MAX_HOPS).reverse()) {
    if (hop === undefined) return believed;
    if (!isTrusted(hop)) return hop;
    believed = hop;
  }
  return believed;
}

/**
 * The client address of a request from `peer` with these headers. A trusted proxy may write either
 * header; when both are present they must name the same client, or the request is attributed to the
 * proxy itself: one of them came from the client, and which one cannot be told.
 */
export function resolveClientAddress(
  peer: string,
  headers: FastifyRequest['headers'],
  isTrusted: (address: string) => boolean,
): string {
  const direct = normalizeAddress(peer) ?? peer;
  if (!isTrusted(direct)) return direct;
  const header = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value.join(',') : value;
  };
  const forwarded = header('forwarded');
  const xff = header('x-forwarded-for');
  const candidates = new Set<string>();
  if (forwarded !== undefined) candidates.add(rightmostUntrusted(forwardedHops(forwarded), direct, isTrusted));
  if (xff !== undefined) candidates.add(rightmostUntrusted(xForwardedForHops(xff), direct, isTrusted));
  return candidates.size === 1 ? [...candidates][0]! : direct;
}

/** Gives every request of `app` its `clientAddress`, worked out once, on first use. */
export function decorateClientAddress(app: FastifyInstance, isTrusted: (address: string) => boolean): void {
  const cache = new WeakMap<FastifyRequest, string>();
  app.decorateRequest('clientAddress', {
    getter(this: FastifyRequest) {
      let address = cache.get(this);
      if (address === undefined) {
        address = resolveClientAddress(this.raw.socket?.remoteAddress ?? this.ip, this.headers, isTrusted);
        cache.set(this, address);
      }
      return address;
    },
  });
}
