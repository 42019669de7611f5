/**
 * The API in the CLI's own process, for when no server holds the data: the core is booted here, the
 * HTTP API built on it with the local operator admitted (http/operator.ts), and each request sent
 * through fastify's `inject()` with this process's operator secret. The secret is 32 random bytes made
 * now and kept only in memory; the instance refuses to listen. The requests, their checks and their
 * audit entries are those of a running server's; only the caller differs: the operator, audited with
 * the OS user and host.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { buildServer } from '../http/server.js';
import { openCore } from './context.js';
import type { CliIo } from './io.js';
import { errorOfResponse, type Api, type RawBody } from './api.js';

export class LocalApi implements Api {
  readonly local = true;

  constructor(
    private readonly http: FastifyInstance,
    private readonly secret: string,
  ) {}

  async call<T>(method: string, route: string, body?: unknown): Promise<T> {
    const response = await this.http.inject({
      method: method as 'GET',
      url: route,
      headers: {
        authorization: `Operator ${this.secret}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    if (response.statusCode >= 300) throw errorOfResponse(response.statusCode, response.statusMessage, response.body);
    return (response.body ? JSON.parse(response.body) : undefined) as T;
  }

  async *stream(route: string, raw?: RawBody): AsyncGenerator<string> {
    const response = await this.http.inject({
      method: (raw?.method ?? 'GET') as 'GET',
      url: route,
      headers: { authorization: `Operator ${this.secret}`, ...(raw ? { 'content-type': raw.contentType } : {}) },
      ...(raw ? { payload: raw.body } : {}),
      payloadAsStream: true,
    });
    const chunks = response.stream() as AsyncIterable<Buffer | string>;
    if (response.statusCode >= 300) {
      let text = '';
      for await (const chunk of chunks) text += String(chunk);
      throw errorOfResponse(response.statusCode, response.statusMessage, text);
    }
    const decoder = new TextDecoder();
    for await (const chunk of chunks) yield typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    yield decoder.decode();
  }
}

/**
 * Boots the core and the in-process API for one command; `close()` ends both (the core's close numbers
 * the command's audit entries first).
 */
export async function openLocalApi(io: CliIo, command: string): Promise<LocalApi & { close(): Promise<void> }> {
  const core = await openCore(io, command);
  try {
    const secret = randomBytes(32).toString('base64url');
    const http = await buildServer(core, { operatorSecret: secret });
    await http.ready();
    return Object.assign(new LocalApi(http, secret), {
      async close() {
        await http.close();
        await core.close();
      },
    });
  } catch (error) {
    await core.close();
    throw error;
  }
}
