/**
 * Opaque page tokens (AIP-158): where the next page starts, bound to the request it continues (the
 * account and the filters), and MACed under the KEK so that a client can neither forge a position nor
 * carry a token over to other filters. Any node of a deployment accepts the tokens another made.
 */
import { timingSafeEqual } from 'node:crypto';
import { AppError } from '../errors.js';
import type { Sealer } from '../sealing.js';

export class PageTokens {
  constructor(
    private readonly sealer: Sealer,
    /** What the tokens page through: a token of one kind is never read as another's. */
    private readonly kind: string,
  ) {}

  /** A token for the page that starts after `position`, for requests bound to `binding`. */
  make(position: string | number, binding: string): string {
    const body = Buffer.from(JSON.stringify([position])).toString('base64url');
    return `${body}.${this.sealer.mac(this.kind, `${body}\n${binding}`)}`;
  }

  /** The position a token carries; INVALID_ARGUMENT unless this deployment made it for this same binding. */
  read(token: string, binding: string): string | number {
    const [body, tag, extra] = token.split('.');
    const expected = body === undefined ? '' : this.sealer.mac(this.kind, `${body}\n${binding}`);
    if (body === undefined || tag === undefined || extra !== undefined || !equal(tag, expected)) {
      throw new AppError('INVALID_ARGUMENT', {
        description:
          'page_token is not valid for this request: pass back next_page_token unchanged, with the same filter',
        metadata: { field: 'page_token' },
      });
    }
    const [position] = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as [string | number];
    return position;
  }
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
