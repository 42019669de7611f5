/**
 * The console's static files, served from this process (no CDN): htmx from its npm package, and the
 * console's own stylesheet and scripts from src/console/assets/ (read once at start; the build does not
 * copy them, and both the sources and dist/ resolve them from the package root). Each is named in pages
 * with a version query of its content hash, and served immutable under that name.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';

interface Asset {
  body: Buffer;
  type: string;
  hash: string;
}

const OWN = new URL('../../src/console/assets/', import.meta.url);

function load(): Map<string, Asset> {
  const files: Array<[string, string | URL, string]> = [
    ['htmx.min.js', createRequire(import.meta.url).resolve('htmx.org/dist/htmx.min.js'), 'text/javascript'],
    ['console.js', new URL('console.js', OWN), 'text/javascript'],
    ['audit-verify.js', new URL('audit-verify.js', OWN), 'text/javascript'],
    ['console.css', new URL('console.css', OWN), 'text/css'],
  ];
  return new Map(
    files.map(([name, file, type]) => {
      const body = readFileSync(file);
      const hash = createHash('sha256').update(body).digest('base64url').slice(0, 12);
      return [name, { body, type: `${type}; charset=utf-8`, hash }];
    }),
  );
}

let assets: Map<string, Asset> | undefined;

/** The URL a page links an asset by: its name and content hash. */
export function assetUrl(name: 'htmx.min.js' | 'console.js' | 'audit-verify.js' | 'console.css'): string {
  assets ??= load();
  return `/console/assets/${name}?v=${assets.get(name)!.hash}`;
}

export function assetRoutes(app: FastifyInstance): void {
  assets ??= load();
  app.get<{ Params: { name: string } }>('/console/assets/:name', { schema: { hide: true } }, async (request, reply) => {
    const asset = assets!.get(request.params.name);
    if (!asset) throw new AppError('NOT_FOUND', { description: 'no such console asset' });
    reply.header('cache-control', 'public, max-age=31536000, immutable');
    reply.header('etag', `"${asset.hash}"`);
    reply.type(asset.type);
    return asset.body;
  });
}
