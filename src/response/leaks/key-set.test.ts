import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../logger.js';
import { keySetDocument, makeCodeHostKey } from '../../../test/support/leak-reports.js';
import { KeySet, keySetTtl } from './key-set.js';

describe('the key set over a URL', () => {
  const first = makeCodeHostKey('k1');
  const second = makeCodeHostKey('k2');
  let served = keySetDocument([first]);
  let cacheControl: string | undefined = 'public, max-age=600';
  let status = 200;
  let fetches = 0;
  let server: Server;
  let url: string;
  let now = 1_000_000;
  const clock = () => now;

  beforeAll(async () => {
    server = createServer((_request, response) => {
      fetches++;
      response.writeHead(status, {
        'content-type': 'application/json',
        ...(cacheControl ? { 'cache-control': cacheControl } : {}),
      });
      response.end(served);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/meta/public_keys/secret_scanning`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('is fetched once, kept for its max-age, refetched after', async () => {
    const keys = new KeySet({ url }, createLogger('silent'), clock);
    expect(await keys.key('k1')).toBeDefined();
    expect(await keys.key('k1')).toBeDefined();
    expect(fetches).toBe(1);
    now += 599_000;
    await keys.key('k1');
    expect(fetches).toBe(1);
    now += 2000;
    await keys.key('k1');
    expect(fetches).toBe(2);
  });

  it('is refetched for an unknown key id at most once a minute, and learns a key added meanwhile', async () => {
    fetches = 0;
    const keys = new KeySet({ url }, createLogger('silent'), clock);
    await keys.key('k1');
    expect(await keys.key('k2')).toBeUndefined();
    expect(await keys.key('k3')).toBeUndefined();
    expect(fetches).toBe(2);
    served = keySetDocument([first, second]);
    now += 30_000;
    expect(await keys.key('k2')).toBeUndefined();
    expect(fetches).toBe(2);
    now += 31_000;
    expect(await keys.key('k2')).toBeDefined();
    expect(fetches).toBe(3);
  });

  it('keeps the keys it holds when a refetch fails, and fails without any', async () => {
    const keys = new KeySet({ url }, createLogger('silent'), clock);
    await keys.key('k1');
    status = 500;
    now += 3_600_000;
    expect(await keys.key('k1')).toBeDefined();
    const none = new KeySet({ url }, createLogger('silent'), clock);
    await expect(none.key('k1')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    status = 200;
  });

  it('reads its lifetime from Cache-Control, within bounds', () => {
    expect([
      keySetTtl(null),
      keySetTtl('max-age=5'),
      keySetTtl('public, max-age=900'),
      keySetTtl('max-age=99999999'),
      keySetTtl('no-store'),
      keySetTtl('private'),
    ]).toEqual([3600, 60, 900, 86_400, 60, 3600]);
    cacheControl = undefined;
  });
});
