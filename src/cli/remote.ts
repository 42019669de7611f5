/**
 * Admin commands either work on the database directly (bootstrap: nothing else holds it) or go through
 * a running server's API with the session `cordon login` saved. They go through the API when a server
 * holds the embedded data directory, or, on PostgreSQL, whenever a login is saved; otherwise directly.
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Core } from '../core.js';
import { AppError, ErrorCodes, type ErrorCode } from '../errors.js';
import { servingUrl } from '../storage/lock-file.js';
import { readConfig, resolveAccount, withCore } from './context.js';
import { usageError, type CliIo } from './io.js';

/** What `cordon login` keeps (0600): the server, the session token and whose it is. */
export interface SavedSession {
  server: string;
  session_token: string;
  account_id: string;
  email: string;
  role: string;
  expire_time: string;
}

export function readSavedSession(io: CliIo): SavedSession | undefined {
  try {
    return JSON.parse(readFileSync(readConfig(io).config.cliSessionFile, 'utf8')) as SavedSession;
  } catch {
    return undefined;
  }
}

export function saveSession(io: CliIo, session: SavedSession): string {
  const file = readConfig(io).config.cliSessionFile;
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, JSON.stringify(session, null, 2) + '\n', { mode: 0o600 });
  chmodSync(file, 0o600); // also when the file existed with other bits
  return file;
}

export function forgetSession(io: CliIo): void {
  rmSync(readConfig(io).config.cliSessionFile, { force: true });
}

/** A client of Cordon's HTTP API; errors in google.rpc.Status shape come back as AppErrors. */
export class ApiClient {
  constructor(
    readonly server: string,
    private readonly token?: string,
  ) {}

  async call<T>(method: string, route: string, body?: unknown): Promise<T> {
    const response = await this.fetch(method, route, body);
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** A GET whose body is streamed (an export), as text chunks. */
  async *stream(route: string): AsyncGenerator<string> {
    const response = await this.fetch('GET', route);
    const decoder = new TextDecoder();
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) yield decoder.decode(chunk, { stream: true });
    yield decoder.decode();
  }

  /** The response when it is a 2xx; otherwise its google.rpc.Status as an AppError. */
  private async fetch(method: string, route: string, body?: unknown): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(new URL(route, this.server), {
        method,
        headers: { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new AppError('UNAVAILABLE', { description: `cannot reach the Cordon server at ${this.server}`, cause: error });
    }
    if (response.ok) return response;
    const text = await response.text();
    let reason: string | undefined;
    let message = `${response.status} ${response.statusText}`;
    try {
      const status = JSON.parse(text) as { message?: string; details?: Array<{ reason?: string }> };
      reason = status.details?.[0]?.reason;
      message = status.message ?? message;
    } catch {
      // not a Status body: keep the HTTP status line
    }
    const code: ErrorCode = reason && reason in ErrorCodes ? (reason as ErrorCode) : response.status === 401 ? 'UNAUTHENTICATED' : 'INTERNAL';
    throw new AppError(code, { description: code === 'UNAUTHENTICATED' ? `${message} (run \`cordon login\`)` : message });
  }
}

/** The `--account` option's help, the same on every admin command. */
export const ACCOUNT_HELP = 'account id (default: the signed-in account, or the only one)';

/** An account's API path, for the commands' `api` routes. */
export const accountPath = (accountId: string) => `/v1/accounts/${encodeURIComponent(accountId)}`;

/** How a command's action runs its body (main.ts: errors reported, exit codes set). */
export type Run = (fn: () => Promise<void>) => Promise<void>;

export interface AdminRoutes<T> {
  /** Directly on the database, for the account resolved from --account or the only one. */
  direct(core: Core, accountId: string): Promise<T>;
  /** Through the API, for the account of --account or the saved session. */
  api(client: ApiClient, accountId: string): Promise<T>;
}

/** Runs an admin command where it belongs (see the top of this file). */
export async function runAdmin<T>(io: CliIo, command: string, account: string | undefined, routes: AdminRoutes<T>): Promise<T> {
  const { config } = readConfig(io);
  const saved = readSavedSession(io);
  const holder = config.databaseUrl ? undefined : servingUrl(config.dataDir);
  if (holder || (config.databaseUrl && saved)) {
    if (!saved || (holder && new URL(saved.server).origin !== new URL(holder).origin)) {
      throw usageError(`a Cordon server ${holder ? `at ${holder} holds ${config.dataDir}` : 'shares this database'}: sign in with \`cordon login${holder ? ` --server ${holder}` : ''}\` and try again`);
    }
    return routes.api(new ApiClient(saved.server, saved.session_token), account ?? saved.account_id);
  }
  return withCore(io, command, async (core) => routes.direct(core, await resolveAccount(core, account)));
}
