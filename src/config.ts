/**
 * The only reader of the environment. Every option is typed and described here; `cordon config docs`
 * prints this table. `loadConfig` validates everything and reports every problem at once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parseAddressRange, type AddressRange } from './address-ranges.js';
import { AppError } from './errors.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  /** Embedded PGlite data directory (used when `databaseUrl` is unset). */
  dataDir: string;
  /** PostgreSQL connection string; when set, Cordon uses PostgreSQL instead of the embedded database. */
  databaseUrl: string | undefined;
  listen: { host: string; port: number };
  allowInsecureListen: boolean;
  tls: { certFile: string; keyFile: string } | undefined;
  logLevel: LogLevel;
  demo: boolean;
  pgPoolMax: number;
  pgConnectTimeoutMs: number;
  sequencerIntervalMs: number;
  sequencerBatch: number;
  groupCommitMaxBatch: number;
  groupCommitConcurrency: number;
  groupCommitMaxQueue: number;
  /** 32-byte key that encrypts the token-signing keys at rest; undefined: a 0600 file in the data dir. */
  keyEncryptionKey: Buffer | undefined;
  /** Access token lifetime in seconds. */
  accessTokenTtl: number;
  /**
   * The issuer (`iss`) of tokens and the base of the metadata URLs; undefined (embedded only): the server's own URL.
   */
  issuer: string | undefined;
  /** Requests per minute to the token, revocation and introspection endpoints (0: no limit). */
  oauthRateLimit: { perClient: number; perAddress: number };
  /** Lifetime (s) of a human sign-in session. */
  sessionTtl: number;
  /** Seconds a console session may go unused before it ends (its absolute limit is sessionTtl). */
  consoleIdleTimeout: number;
  /** Sign-in attempts a minute from one source address (0: no limit). */
  signInRatePerAddress: number;
  /** Where `cordon login` keeps the session it signs in (0600). */
  cliSessionFile: string;
  /** The response engine's defaults: the account blast-radius cap when an account sets none, the raw payload kept. */
  response: {
    breakerMaxActions: number;
    breakerWindowSeconds: number;
    rawMaxBytes: number;
    approvalTtlSeconds: number;
    restoreWorkerIntervalMs: number;
  };
  /** Targets (src/targets/): how often each node looks for targets whose sync is due. */
  targets: { syncCheckMs: number };
  /** The step worker (targets/worker.ts): how often it polls for due remote steps, and its claims' lease. */
  targetWorker: { intervalMs: number; leaseMs: number };
  /** Webhook delivery (notify/worker.ts): poll, per-attempt timeout, when to disable, when to give up. */
  webhooks: { intervalMs: number; timeoutMs: number; disableAfter: number; giveUpSeconds: number };
  /** The audit logs' checkpoint signing: where the Ed25519 key lives, its name, and the cadence. */
  checkpoints: { keyStorage: 'file' | 'database'; origin: string | undefined; intervalMs: number };
  /** Peers whose `Forwarded` / `X-Forwarded-For` headers are believed (http/client-address.ts). */
  trustedProxies: AddressRange[];
  /** Sign-in attempts a minute for one email from one source address (0: no limit). */
  signInRatePerAddressEmail: number;
  /**
   * Refusals of callers that did not authenticate: their per-address limit a minute (0: none), and the system log's
   * tally window.
   */
  unauthenticated: { ratePerAddress: number; windowSeconds: number };
  /**
   * Where /metrics is served: its own listener (undefined: none), and the bearer token it needs (undefined: none; the
   * public listener serves it only with one).
   */
  metrics: { listen: { host: string; port: number } | undefined; token: string | undefined };
  /**
   * The code host's keys that sign leak reports (POST /v1/secret-scanning/reports): an absolute file path or an
   * https:// URL; undefined: the endpoint answers 404.
   */
  secretScanningKeys: { file: string } | { url: string } | undefined;
}

type Env = Record<string, string | undefined>;

interface OptionSpec {
  env: string;
  type: string;
  default: string;
  description: string;
}

/** The documented options, in the order `cordon config docs` prints them. */
export const OPTIONS: readonly OptionSpec[] = [
  {
    env: 'CORDON_DATA_DIR',
    type: 'path',
    default: './.cordon',
    description:
      'Embedded PGlite data directory (holds a lock file so only one process opens it). Ignored when DATABASE_URL is ' +
      'set.',
  },
  {
    env: 'DATABASE_URL',
    type: 'postgres:// URL',
    default: '(unset: embedded PGlite)',
    description:
      'PostgreSQL 15+ connection string. Use it in production: durability holds on PostgreSQL, and several nodes can ' +
      'share one database.',
  },
  {
    env: 'CORDON_LISTEN',
    type: 'HOST:PORT',
    default: '127.0.0.1:8080',
    description: 'Address the HTTP server listens on (`cordon serve --listen` overrides it).',
  },
  {
    env: 'CORDON_ALLOW_INSECURE_LISTEN',
    type: 'boolean',
    default: 'false',
    description: 'Allow plain HTTP on a non-loopback address (only behind a trusted TLS-terminating proxy).',
  },
  {
    env: 'CORDON_TLS_CERT_FILE',
    type: 'path',
    default: '(unset)',
    description: 'PEM certificate chain for HTTPS. Set together with CORDON_TLS_KEY_FILE.',
  },
  {
    env: 'CORDON_TLS_KEY_FILE',
    type: 'path',
    default: '(unset)',
    description: 'PEM private key for HTTPS. Set together with CORDON_TLS_CERT_FILE.',
  },
  {
    env: 'CORDON_LOG_LEVEL',
    type: 'fatal|error|warn|info|debug|trace|silent',
    default: 'info',
    description: 'Log level of the JSON logs (pino) on stderr.',
  },
  {
    env: 'CORDON_DEMO',
    type: 'boolean',
    default: 'true when embedded, false with DATABASE_URL',
    description:
      'On the first start of an empty database, create a demo account (owner, admins, members, groups) and print the ' +
      "next steps, with the owner's generated password (to change at first sign-in) and TOTP seed.",
  },
  {
    env: 'CORDON_PG_POOL_MAX',
    type: 'integer 1..200',
    default: '20',
    description: 'Maximum PostgreSQL connections per process.',
  },
  {
    env: 'CORDON_PG_CONNECT_TIMEOUT_MS',
    type: 'integer 100..600000',
    default: '10000',
    description:
      'How long a call waits for a PostgreSQL connection (a new one, or a free one of the pool) before it is ' +
      'answered 503 UNAVAILABLE. A refused connection (PostgreSQL restarting) fails at once.',
  },
  {
    env: 'CORDON_SEQUENCER_INTERVAL_MS',
    type: 'integer 10..60000',
    default: '200',
    description:
      'How often the audit sequencer looks for committed entries: those of other processes, and the records of reads ' +
      'and refusals of this one (a local change wakes it at once).',
  },
  {
    env: 'CORDON_SEQUENCER_BATCH',
    type: 'integer 1..100000',
    default: '5000',
    description: 'Most audit entries the sequencer numbers in one transaction.',
  },
  {
    env: 'CORDON_GROUP_COMMIT_MAX_BATCH',
    type: 'integer 1..5000',
    default: '1000',
    description: 'Most records one group commit writes in a single statement.',
  },
  {
    env: 'CORDON_GROUP_COMMIT_CONCURRENCY',
    type: 'integer 1..32',
    default: '1',
    description:
      'Group commits in flight at once. 1 batches best on a small machine; more can help when PostgreSQL has cores ' +
      'to spare.',
  },
  {
    env: 'CORDON_GROUP_COMMIT_MAX_QUEUE',
    type: 'integer 1..1000000',
    default: '20000',
    description:
      'Most records (reads, refusals, token issuance) waiting for a group commit. When PostgreSQL is slow or away ' +
      'the queue stops there: further calls that must be recorded are answered 503 UNAVAILABLE instead of ' +
      'waiting in memory.',
  },
  {
    env: 'CORDON_KEY_ENCRYPTION_KEY',
    type: '32 bytes, base64url',
    default: '(embedded: a 0600 file in the data dir)',
    description:
      'Encrypts the token-signing keys stored in the database (AES-256-GCM). Required with DATABASE_URL: every node ' +
      'needs the same one. Generate with `openssl rand -base64 32`.',
  },
  {
    env: 'CORDON_ACCESS_TOKEN_TTL',
    type: 'integer 60..86400 (seconds)',
    default: '900',
    description: 'Lifetime of the access tokens the token endpoint issues.',
  },
  {
    env: 'CORDON_OAUTH_RATE_PER_CLIENT',
    type: 'integer 0..1000000 (per minute)',
    default: '600',
    description:
      'Requests a minute one client_id may make to the token, revocation and introspection endpoints, per node (0: ' +
      'no limit).',
  },
  {
    env: 'CORDON_OAUTH_RATE_PER_ADDRESS',
    type: 'integer 0..1000000 (per minute)',
    default: '1200',
    description: 'Requests a minute one source address may make to those endpoints, per node (0: no limit).',
  },
  {
    env: 'CORDON_SESSION_TTL',
    type: 'integer 300..604800 (seconds)',
    default: '43200',
    description: 'Lifetime of a human sign-in session (password + TOTP); it never extends itself.',
  },
  {
    env: 'CORDON_CONSOLE_IDLE_TIMEOUT',
    type: 'integer 60..86400 (seconds)',
    default: '1800',
    description:
      'A console session unused this long ends (sign in again); CORDON_SESSION_TTL still bounds it from the sign-in.',
  },
  {
    env: 'CORDON_SIGN_IN_RATE_PER_ADDRESS',
    type: 'integer 0..1000000 (per minute)',
    default: '30',
    description:
      'Sign-in attempts a minute from one source address, per node (0: no limit). Each user also backs off after 5 ' +
      'failures.',
  },
  {
    env: 'CORDON_BREAKER_MAX_ACTIONS',
    type: 'integer 1..10000',
    default: '20',
    description:
      'Suspensions the response engine may execute in an account within the breaker window before its breaker trips ' +
      'and every further plan needs approval (an account can set its own with `cordon automation cap`).',
  },
  {
    env: 'CORDON_BREAKER_WINDOW_SECONDS',
    type: 'integer 1..604800',
    default: '600',
    description: 'The sliding window (seconds) the account breaker counts executed suspensions over.',
  },
  {
    env: 'CORDON_APPROVAL_TTL_SECONDS',
    type: 'integer 60..604800',
    default: '1800',
    description:
      'How long a plan (a suspension or a restore) waits for its approvals; then it expires, audited, and its ' +
      'approvals with it.',
  },
  {
    env: 'CORDON_RESTORE_WORKER_INTERVAL_MS',
    type: 'integer 100..600000',
    default: '1000',
    description:
      'How often each node looks for containments whose restore-after time has come and for plans whose approvals ' +
      'expired (claimed with SKIP LOCKED, so nodes share the work).',
  },
  {
    env: 'CORDON_TARGET_SYNC_CHECK_MS',
    type: 'integer 1000..3600000',
    default: '60000',
    description:
      "How often each node looks for targets whose users are due to be mirrored again (each target's " +
      'sync_interval_seconds; claimed under a lease with SKIP LOCKED, so two nodes never sync one target at once).',
  },
  {
    env: 'CORDON_TARGET_WORKER_INTERVAL_MS',
    type: 'integer 50..600000',
    default: '1000',
    description:
      'How often each node looks for due remote steps of containments (claimed with SKIP LOCKED under a lease, so ' +
      'nodes share them); a node that writes steps starts them at once.',
  },
  {
    env: 'CORDON_TARGET_LEASE_MS',
    type: 'integer 1000..3600000',
    default: '30000',
    description:
      "How long a node's claim on a remote step holds: a node that dies mid-attempt leaves the step to another " +
      'node after this long (its attempt is then recorded as interrupted).',
  },
  {
    env: 'CORDON_WEBHOOK_WORKER_INTERVAL_MS',
    type: 'integer 50..600000',
    default: '1000',
    description:
      'How often each node looks for webhook deliveries due (claimed with SKIP LOCKED under a lease, so nodes share ' +
      'them); a node whose audit log fans out an event sends it at once.',
  },
  {
    env: 'CORDON_WEBHOOK_TIMEOUT_MS',
    type: 'integer 100..60000',
    default: '10000',
    description: "How long a webhook attempt waits for the receiver's answer before it counts as failed.",
  },
  {
    env: 'CORDON_WEBHOOK_DISABLE_AFTER',
    type: 'integer 1..100000',
    default: '100',
    description:
      'Failed attempts in a row, across its deliveries, after which a webhook subscription is disabled (audited as ' +
      '`webhook.disable`) and its deliveries still to go are dropped; `cordon webhooks enable` turns it on again.',
  },
  {
    env: 'CORDON_WEBHOOK_GIVE_UP_SECONDS',
    type: 'integer 60..604800',
    default: '86400',
    description:
      'How long a webhook delivery is retried (exponential backoff with jitter, honouring Retry-After) before it ' +
      'ends as failed.',
  },
  {
    env: 'CORDON_SIGNAL_RAW_MAX_BYTES',
    type: 'integer 1024..1048576',
    default: '65536',
    description:
      "How much of a signal's raw payload is kept with it (longer ones are kept cut, and marked); requests over 1 " +
      'MiB are refused.',
  },
  {
    env: 'CORDON_CLI_SESSION_FILE',
    type: 'path',
    default: '~/.config/cordon/session.json',
    description: 'Where `cordon login` keeps its session token (0600); admin commands use it to go through the API.',
  },
  {
    env: 'CORDON_CHECKPOINT_KEY_STORAGE',
    type: 'file | database',
    default: 'file when embedded, database with DATABASE_URL',
    description:
      'Where the Ed25519 key that signs audit checkpoints lives: a 0600 file in the data dir, or in the database ' +
      'encrypted with CORDON_KEY_ENCRYPTION_KEY (needed when several nodes share a database). Made at `cordon ' +
      'init` (or first start); it never leaves the server.',
  },
  {
    env: 'CORDON_LOG_ORIGIN',
    type: 'text (no spaces or +)',
    default: '(cordon- and 8 random hex digits, chosen with the key)',
    description:
      'Base name of the checkpoint key; each audit log signs under the key name `<name>/<account id>`, which is ' +
      'also its checkpoint origin. Set it, e.g. to `audit.example.com`, before the key is made; later changes ' +
      'are ignored.',
  },
  {
    env: 'CORDON_CHECKPOINT_INTERVAL_MS',
    type: 'integer 50..60000',
    default: '500',
    description: 'How often a new checkpoint is signed for every audit log that grew.',
  },
  {
    env: 'CORDON_TRUSTED_PROXIES',
    type: 'CIDRs or addresses, comma-separated',
    default: '(none)',
    description:
      'Proxies (load balancers, TLS terminators) whose `Forwarded` and `X-Forwarded-For` headers are believed: from ' +
      'them, the client is the right-most hop that is not itself a trusted proxy. From any other peer the ' +
      'headers are ignored. Rate limits, refusal tallies and audit entries all use that address.',
  },
  {
    env: 'CORDON_SIGN_IN_RATE_PER_ADDRESS_EMAIL',
    type: 'integer 0..1000000 (per minute)',
    default: '10',
    description:
      'Sign-in attempts a minute for one email from one source address, per node (0: no limit), besides the ' +
      'per-address limit.',
  },
  {
    env: 'CORDON_UNAUTHENTICATED_RATE_PER_ADDRESS',
    type: 'integer 0..1000000 (per minute)',
    default: '300',
    description:
      'Refused requests a minute from one source address by callers that did not authenticate, per node (0: no ' +
      'limit); past it, such requests are answered 429 until the minute ends (authenticated ones still pass).',
  },
  {
    env: 'CORDON_REFUSAL_WINDOW_SECONDS',
    type: 'integer 1..3600',
    default: '60',
    description:
      "Refusals of callers that did not authenticate never reach an account's log: each node counts them per source " +
      'address and writes one `http.unauthenticated_refusals` entry per address and window to the system log.',
  },
  {
    env: 'CORDON_METRICS_LISTEN',
    type: 'HOST:PORT or off',
    default: '127.0.0.1:9464',
    description: 'Address of the separate listener that serves `/metrics` (plain HTTP). `off`: none.',
  },
  {
    env: 'CORDON_METRICS_TOKEN',
    type: 'text, 32 to 256 characters',
    default: '(unset)',
    description:
      'When set, `/metrics` needs `Authorization: Bearer <token>`, on the metrics listener and on the main listener ' +
      'too (which serves `/metrics` only when a token is set).',
  },
  {
    env: 'CORDON_SECRET_SCANNING_KEYS',
    type: 'path or https:// URL (http:// on loopback)',
    default: '(unset: no leak reports)',
    description:
      "The keys a code host signs leak reports with (`POST /v1/secret-scanning/reports`), in GitHub's format " +
      '`{"public_keys":[{"key_identifier","key","is_current"}]}`: a JSON file, or a URL fetched and cached for its ' +
      '`Cache-Control: max-age` (1 min to 24 h, 1 h without one). Unset: the endpoint answers 404.',
  },
  {
    env: 'CORDON_ISSUER',
    type: 'https:// URL (http:// on loopback)',
    default: '(embedded: the URL the server listens on)',
    description:
      'The `iss` of access tokens and the base of the OAuth metadata: the public URL clients reach Cordon on (behind ' +
      "a proxy, the proxy's). Required with DATABASE_URL: every node must issue and accept the same one, or a " +
      'token works only on the node that issued it.',
  },
];

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Parses `HOST:PORT` (IPv6 hosts in brackets). Returns undefined when malformed. */
export function parseListen(value: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(value.trim());
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  return { host: (match[1] ?? match[2]) as string, port };
}

/** The URL a server with this config answers on (`port`: the one it actually got, when it asked for 0). */
export function listenUrl(config: Config, port = config.listen.port): string {
  const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  return `${config.tls ? 'https' : 'http'}://${host}:${port}`;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export interface LoadedConfig {
  config: Config;
  /** One-time notices about development defaults, printed at start. */
  notices: string[];
}

/**
 * Reads and validates the configuration. `overrides` come from command-line flags and win over the
 * environment. Throws one `CONFIG_INVALID` AppError whose `problems` lists every problem found.
 */
export function loadConfig(env: Env = process.env, overrides: Partial<Record<string, string>> = {}): LoadedConfig {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const value = overrides[name] ?? env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const value = read(name);
    if (value === undefined) return fallback;
    if (/^(1|true|yes|on)$/i.test(value)) return true;
    if (/^(0|false|no|off)$/i.test(value)) return false;
    problems.push(`${name}: expected a boolean (true/false), got "${value}"`);
    return fallback;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const value = read(name);
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) {
      problems.push(`${name}: expected an integer from ${min} to ${max}, got "${value}"`);
      return fallback;
    }
    return n;
  };

  const databaseUrl = read('DATABASE_URL');
  if (databaseUrl !== undefined) {
    let ok: boolean;
    try {
      ok = ['postgres:', 'postgresql:'].includes(new URL(databaseUrl).protocol);
    } catch {
      ok = false;
    }
    // Never echo the URL: it may carry a password.
    if (!ok) problems.push('DATABASE_URL: expected a postgres:// or postgresql:// URL');
  }

  const listenRaw = read('CORDON_LISTEN') ?? '127.0.0.1:8080';
  const listen = parseListen(listenRaw);
  if (!listen) problems.push(`CORDON_LISTEN: expected HOST:PORT (port 0-65535), got "${listenRaw}"`);

  const certFile = read('CORDON_TLS_CERT_FILE');
  const keyFile = read('CORDON_TLS_KEY_FILE');
  if ((certFile === undefined) !== (keyFile === undefined)) {
    problems.push('CORDON_TLS_CERT_FILE and CORDON_TLS_KEY_FILE must be set together');
  }
  for (const [name, file] of [
    ['CORDON_TLS_CERT_FILE', certFile],
    ['CORDON_TLS_KEY_FILE', keyFile],
  ] as const) {
    if (file !== undefined && !existsSync(file)) problems.push(`${name}: file not found: ${file}`);
  }
  const tls = certFile && keyFile ? { certFile, keyFile } : undefined;

  const allowInsecureListen = bool('CORDON_ALLOW_INSECURE_LISTEN', false);
  if (listen && !tls && !isLoopback(listen.host) && !allowInsecureListen) {
    problems.push(
      `CORDON_LISTEN: ${listen.host} is not a loopback address and TLS is not configured; ` +
        'set CORDON_TLS_CERT_FILE/CORDON_TLS_KEY_FILE, or CORDON_ALLOW_INSECURE_LISTEN=true behind a trusted TLS proxy',
    );
  }

  const logLevelRaw = read('CORDON_LOG_LEVEL') ?? 'info';
  const logLevel = LOG_LEVELS.find((l) => l === logLevelRaw.toLowerCase());
  if (!logLevel) problems.push(`CORDON_LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}, got "${logLevelRaw}"`);

  const kekRaw = read('CORDON_KEY_ENCRYPTION_KEY');
  let keyEncryptionKey: Buffer | undefined;
  if (kekRaw !== undefined) {
    keyEncryptionKey = Buffer.from(kekRaw, 'base64url');
    // Never echo the value: it is a secret.
    if (keyEncryptionKey.length !== 32)
      problems.push('CORDON_KEY_ENCRYPTION_KEY: expected 32 bytes, base64 or base64url encoded');
  } else if (databaseUrl !== undefined) {
    problems.push(
      'CORDON_KEY_ENCRYPTION_KEY: required with DATABASE_URL (every node must decrypt the same signing keys)',
    );
  }
  const keyStorageRaw = read('CORDON_CHECKPOINT_KEY_STORAGE');
  const keyStorage = keyStorageRaw === 'file' || keyStorageRaw === 'database' ? keyStorageRaw : undefined;
  if (keyStorageRaw !== undefined && !keyStorage)
    problems.push(`CORDON_CHECKPOINT_KEY_STORAGE: expected file or database, got "${keyStorageRaw}"`);
  if (keyStorage === 'file' && databaseUrl !== undefined)
    problems.push(
      'CORDON_CHECKPOINT_KEY_STORAGE: file needs the embedded database (with DATABASE_URL every node needs the key: ' +
        'use database)',
    );
  const origin = read('CORDON_LOG_ORIGIN');
  if (origin !== undefined && !/^[^\s+]{1,200}$/u.test(origin))
    problems.push('CORDON_LOG_ORIGIN: expected 1 to 200 characters, no spaces or +');
  const issuer = read('CORDON_ISSUER');
  if (issuer !== undefined) {
    let ok: boolean;
    try {
      const url = new URL(issuer);
      ok =
        (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname.replace(/^\[|\]$/g, '')))) &&
        !url.search &&
        !url.hash;
    } catch {
      ok = false;
    }
    if (!ok)
      problems.push(
        `CORDON_ISSUER: expected an https:// URL without query or fragment (http:// only on loopback), got "${issuer}"`,
      );
  } else if (databaseUrl !== undefined) {
    // Each node's own listen URL would make a token good only on the node that issued it.
    problems.push(
      'CORDON_ISSUER: required with DATABASE_URL (every node must issue and accept the same iss: the public URL ' +
        'clients use)',
    );
  }

  const proxiesRaw = read('CORDON_TRUSTED_PROXIES');
  const trustedProxies: AddressRange[] = [];
  for (const item of proxiesRaw?.split(/[\s,]+/).filter(Boolean) ?? []) {
    const range = parseAddressRange(item);
    if (range) trustedProxies.push(range);
    else problems.push(`CORDON_TRUSTED_PROXIES: expected IPv4 or IPv6 addresses or CIDRs, got "${item}"`);
  }
  const metricsListenRaw = read('CORDON_METRICS_LISTEN') ?? '127.0.0.1:9464';
  const metricsListen = metricsListenRaw.toLowerCase() === 'off' ? undefined : parseListen(metricsListenRaw);
  if (metricsListenRaw.toLowerCase() !== 'off' && !metricsListen)
    problems.push(`CORDON_METRICS_LISTEN: expected HOST:PORT or off, got "${metricsListenRaw}"`);
  const metricsToken = read('CORDON_METRICS_TOKEN');
  // Never echo the value: it is a secret.
  if (metricsToken !== undefined && !/^[\x21-\x7e]{32,256}$/.test(metricsToken))
    problems.push('CORDON_METRICS_TOKEN: expected 32 to 256 printable characters, no spaces');

  const secretScanningKeys = readSecretScanningKeys(read('CORDON_SECRET_SCANNING_KEYS'), problems);

  const config: Config = {
    dataDir: path.resolve(read('CORDON_DATA_DIR') ?? './.cordon'),
    databaseUrl,
    listen: listen ?? { host: '127.0.0.1', port: 8080 },
    allowInsecureListen,
    tls,
    logLevel: logLevel ?? 'info',
    demo: bool('CORDON_DEMO', databaseUrl === undefined),
    pgPoolMax: int('CORDON_PG_POOL_MAX', 20, 1, 200),
    pgConnectTimeoutMs: int('CORDON_PG_CONNECT_TIMEOUT_MS', 10_000, 100, 600_000),
    sequencerIntervalMs: int('CORDON_SEQUENCER_INTERVAL_MS', 200, 10, 60_000),
    sequencerBatch: int('CORDON_SEQUENCER_BATCH', 5000, 1, 100_000),
    groupCommitMaxBatch: int('CORDON_GROUP_COMMIT_MAX_BATCH', 1000, 1, 5000),
    groupCommitConcurrency: int('CORDON_GROUP_COMMIT_CONCURRENCY', 1, 1, 32),
    groupCommitMaxQueue: int('CORDON_GROUP_COMMIT_MAX_QUEUE', 20_000, 1, 1_000_000),
    keyEncryptionKey,
    accessTokenTtl: int('CORDON_ACCESS_TOKEN_TTL', 900, 60, 86_400),
    issuer: issuer?.replace(/\/$/, ''),
    oauthRateLimit: {
      perClient: int('CORDON_OAUTH_RATE_PER_CLIENT', 600, 0, 1_000_000),
      perAddress: int('CORDON_OAUTH_RATE_PER_ADDRESS', 1200, 0, 1_000_000),
    },
    sessionTtl: int('CORDON_SESSION_TTL', 43_200, 300, 604_800),
    consoleIdleTimeout: int('CORDON_CONSOLE_IDLE_TIMEOUT', 1800, 60, 86_400),
    signInRatePerAddress: int('CORDON_SIGN_IN_RATE_PER_ADDRESS', 30, 0, 1_000_000),
    response: {
      breakerMaxActions: int('CORDON_BREAKER_MAX_ACTIONS', 20, 1, 10_000),
      breakerWindowSeconds: int('CORDON_BREAKER_WINDOW_SECONDS', 600, 1, 604_800),
      rawMaxBytes: int('CORDON_SIGNAL_RAW_MAX_BYTES', 65_536, 1024, 1_048_576),
      approvalTtlSeconds: int('CORDON_APPROVAL_TTL_SECONDS', 1800, 60, 604_800),
      restoreWorkerIntervalMs: int('CORDON_RESTORE_WORKER_INTERVAL_MS', 1000, 100, 600_000),
    },
    targets: { syncCheckMs: int('CORDON_TARGET_SYNC_CHECK_MS', 60_000, 1000, 3_600_000) },
    targetWorker: {
      intervalMs: int('CORDON_TARGET_WORKER_INTERVAL_MS', 1000, 50, 600_000),
      leaseMs: int('CORDON_TARGET_LEASE_MS', 30_000, 1000, 3_600_000),
    },
    webhooks: {
      intervalMs: int('CORDON_WEBHOOK_WORKER_INTERVAL_MS', 1000, 50, 600_000),
      timeoutMs: int('CORDON_WEBHOOK_TIMEOUT_MS', 10_000, 100, 60_000),
      disableAfter: int('CORDON_WEBHOOK_DISABLE_AFTER', 100, 1, 100_000),
      giveUpSeconds: int('CORDON_WEBHOOK_GIVE_UP_SECONDS', 86_400, 60, 604_800),
    },
    checkpoints: {
      keyStorage: keyStorage ?? (databaseUrl ? 'database' : 'file'),
      origin,
      intervalMs: int('CORDON_CHECKPOINT_INTERVAL_MS', 500, 50, 60_000),
    },
    trustedProxies,
    signInRatePerAddressEmail: int('CORDON_SIGN_IN_RATE_PER_ADDRESS_EMAIL', 10, 0, 1_000_000),
    unauthenticated: {
      ratePerAddress: int('CORDON_UNAUTHENTICATED_RATE_PER_ADDRESS', 300, 0, 1_000_000),
      windowSeconds: int('CORDON_REFUSAL_WINDOW_SECONDS', 60, 1, 3600),
    },
    metrics: { listen: metricsListen, token: metricsToken },
    secretScanningKeys,
    // HOME from `env` as homedir() would take it from process.env: a CLI run in process (the tests') keeps its own.
    cliSessionFile: path.resolve(
      read('CORDON_CLI_SESSION_FILE') ?? path.join(env.HOME || homedir(), '.config', 'cordon', 'session.json'),
    ),
  };

  if (problems.length > 0) {
    throw new ConfigError(problems);
  }

  const notices: string[] = [];
  if (!databaseUrl) {
    notices.push(
      `Using the embedded database in ${config.dataDir} (PGlite runs with fsync off: a power loss can lose ` +
        'recent commits). For production set DATABASE_URL=postgres://…',
    );
  }
  if (allowInsecureListen && !isLoopback(config.listen.host) && !tls) {
    notices.push(`Serving plain HTTP on ${config.listen.host}: make sure a trusted proxy terminates TLS.`);
  }
  if (metricsListen && !isLoopback(metricsListen.host) && !metricsToken) {
    notices.push(
      `Serving /metrics on ${metricsListen.host} without a token: keep that port off the public network, or set ` +
        `CORDON_METRICS_TOKEN.`,
    );
  }
  return { config, notices };
}

/** CORDON_SECRET_SCANNING_KEYS: a URL (https, or http on loopback) or a file that exists. */
function readSecretScanningKeys(raw: string | undefined, problems: string[]): Config['secretScanningKeys'] {
  if (raw === undefined) return undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    let url: URL | undefined;
    try {
      url = new URL(raw);
    } catch {
      url = undefined;
    }
    if (
      url &&
      (url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname.replace(/^\[|\]$/g, ''))))
    )
      return { url: url.href };
    problems.push(`CORDON_SECRET_SCANNING_KEYS: expected an https:// URL (http:// only on loopback), got "${raw}"`);
    return undefined;
  }
  const file = path.resolve(raw);
  let doc: { public_keys?: unknown } | undefined;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8')) as { public_keys?: unknown };
  } catch (error) {
    const missing = (error as { code?: string }).code === 'ENOENT';
    problems.push(`CORDON_SECRET_SCANNING_KEYS: ${missing ? 'no such file' : 'cannot read it as JSON:'} "${file}"`);
    return { file };
  }
  if (!Array.isArray(doc?.public_keys))
    problems.push(`CORDON_SECRET_SCANNING_KEYS: "${file}" is not a key set: {"public_keys": [...]} expected`);
  return { file };
}

export class ConfigError extends AppError {
  readonly problems: string[];
  constructor(problems: string[]) {
    super('CONFIG_INVALID', { detail: problems.join('; ') });
    this.problems = problems;
  }
}

/** The options table as Markdown, for `cordon config docs` and the README. */
export function renderConfigDocs(): string {
  const cell = (text: string) => text.replaceAll('|', '\\|');
  const rows = OPTIONS.map((o) => `| \`${o.env}\` | ${cell(o.type)} | ${cell(o.default)} | ${cell(o.description)} |`);
  return ['| Variable | Type | Default | Description |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
