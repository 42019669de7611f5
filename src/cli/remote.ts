/**
 * Every admin command has one body, written against Cordon's HTTP API (`Api`). It is sent to a running
 * server over HTTP, with the session `cordon login` saved, when a server holds the data: a server holds
 * the embedded data directory, or, on PostgreSQL, a login is saved. Otherwise the CLI builds the API in
 * its own process and sends the same requests through `inject()`, as the local operator (local-api.ts,
 * http/operator.ts), so the answers, the rules and the audit entries are the same either way.
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AppError } from '../errors.js';
import { errorOfResponse, type Api, type RawBody } from './api.js';
import { listenUrl } from '../config.js';
import { servingUrl } from '../storage/lock-file.js';
import { readConfig } from './context.js';
import { openLocalApi } from './local-api.js';
import { usageError, type CliIo } from './io.js';

export type { Api } from './api.js';

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

/** A client of a running server's HTTP API, as the person whose session `cordon login` saved. */
export class ApiClient implements Api {
  readonly local = false;

  constructor(
    readonly server: string,
    private readonly token?: string,
  ) {}

  async call<T>(method: string, route: string, body?: unknown): Promise<T> {
    const response = await this.fetch(
      method,
      route,
      body === undefined ? undefined : { body: JSON.stringify(body), contentType: 'application/json' },
    );
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async *stream(route: string, raw?: RawBody): AsyncGenerator<string> {
    const response = await this.fetch(raw?.method ?? 'GET', route, raw);
    const decoder = new TextDecoder();
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>)
      yield decoder.decode(chunk, { stream: true });
    yield decoder.decode();
  }

  /** The response when it is a 2xx; otherwise its google.rpc.Status as an AppError. */
  private async fetch(
    method: string,
    route: string,
    payload?: { body: string; contentType: string },
  ): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(new URL(route, this.server), {
        method,
        headers: {
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          ...(payload ? { 'content-type': payload.contentType } : {}),
        },
        ...(payload ? { body: payload.body } : {}),
      });
    } catch (error) {
      throw new AppError('UNAVAILABLE', {
        description: `cannot reach the Cordon server at ${this.server}`,
        cause: error,
      });
    }
    if (response.ok) return response;
    throw errorOfResponse(response.status, response.statusText, await response.text());
  }
}

/** The `--account` option's help, the same on every admin command. */
export const ACCOUNT_HELP = 'account id (default: the signed-in account, or the only one)';

/** An account's API path, for the commands' `api` routes. */
export const accountPath = (accountId: string) => `/v1/accounts/${encodeURIComponent(accountId)}`;

/** How a command's action runs its body (main.ts: errors reported, exit codes set). */
export type Run = (fn: () => Promise<void>) => Promise<void>;

/**
 * Where admin commands send their requests: the running server when one holds the data (see the top of
 * this file), with the saved session; otherwise the in-process instance, as the local operator.
 */
async function openApi(
  io: CliIo,
  command: string,
): Promise<{ api: Api; accountOf: (given: string | undefined) => Promise<string>; close: () => Promise<void> }> {
  const { config } = readConfig(io);
  const saved = readSavedSession(io);
  const holder = config.databaseUrl ? undefined : servingUrl(config.dataDir);
  if (holder || (config.databaseUrl && saved)) {
    if (!saved || (holder && new URL(saved.server).origin !== new URL(holder).origin)) {
      // Exit 5 (README, exit codes): the data is there but held by a server this CLI has no session with.
      const server = holder ?? saved?.server ?? listenUrl(config);
      const login = `cordon login --server ${server}${saved ? ` --email ${saved.email}` : ''}`;
      throw new AppError('UNAVAILABLE', {
        description:
          `a Cordon server ${holder ? `at ${holder} holds ${config.dataDir}` : 'shares this database'}: sign in with ` +
          `\`${login}\` and try again`,
      });
    }
    return {
      api: new ApiClient(saved.server, saved.session_token),
      accountOf: async (given) => given ?? saved.account_id,
      close: async () => undefined,
    };
  }
  const local = await openLocalApi(io, command);
  return { api: local, accountOf: (given) => resolveAccount(local, given), close: () => local.close() };
}

/** Runs an admin command's one body, `(api, accountId)`, where it belongs; then closes what it opened. */
export async function runAdmin<T>(
  io: CliIo,
  command: string,
  account: string | undefined,
  body: (api: Api, accountId: string) => Promise<T>,
): Promise<T> {
  const { api, accountOf, close } = await openApi(io, command);
  try {
    return await body(api, await accountOf(account));
  } finally {
    await close();
  }
}

/** Runs an operator bootstrap command (init, keys) on the in-process instance, whatever else runs. */
export async function runLocal<T>(io: CliIo, command: string, body: (api: Api) => Promise<T>): Promise<T> {
  const local = await openLocalApi(io, command);
  try {
    return await body(local);
  } finally {
    await local.close();
  }
}

/** The account a local command works on: the one given (it must exist), or the only one there is. */
async function resolveAccount(api: Api, given: string | undefined): Promise<string> {
  if (given) return (await api.call<{ id: string }>('GET', `/v1/accounts/${encodeURIComponent(given)}`)).id;
  const { accounts } = await api.call<{ accounts: Array<{ id: string }> }>('GET', '/v1/accounts');
  if (accounts.length === 1) return accounts[0]!.id;
  throw usageError(
    accounts.length === 0 ? 'no account yet: run `cordon init` first' : 'several accounts exist: pass --account ID',
  );
}
