import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, OPTIONS, renderConfigDocs } from './config.js';

describe('config', () => {
  it('has working defaults: embedded database on loopback, with a notice about production', () => {
    const { config, notices } = loadConfig({});
    expect(config).toMatchObject({
      databaseUrl: undefined,
      listen: { host: '127.0.0.1', port: 8080 },
      logLevel: 'info',
      demo: true,
      tls: undefined,
    });
    expect(config.dataDir).toMatch(/\.cordon$/);
    expect(notices.join('\n')).toContain('DATABASE_URL');
    // No demo account, and its printed password, on a production database unless asked for.
    const kek = Buffer.alloc(32, 3).toString('base64');
    const issuer = 'https://cordon.example.com';
    expect(
      loadConfig({ DATABASE_URL: 'postgres://db/cordon', CORDON_KEY_ENCRYPTION_KEY: kek, CORDON_ISSUER: issuer }).config
        .demo,
    ).toBe(false);
    expect(
      loadConfig({
        DATABASE_URL: 'postgres://db/cordon',
        CORDON_KEY_ENCRYPTION_KEY: kek,
        CORDON_ISSUER: issuer,
        CORDON_DEMO: 'true',
      }).config.demo,
    ).toBe(true);
  });

  it('lists every problem at once, without echoing a database password', () => {
    let error: unknown;
    try {
      loadConfig({
        DATABASE_URL: 'mysql://root:hunter2@db/x',
        CORDON_LISTEN: 'nowhere',
        CORDON_LOG_LEVEL: 'loud',
        CORDON_PG_POOL_MAX: '0',
        CORDON_DEMO: 'maybe',
        CORDON_TLS_CERT_FILE: '/nonexistent.pem',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toEqual([
      'DATABASE_URL: expected a postgres:// or postgresql:// URL',
      'CORDON_LISTEN: expected HOST:PORT (port 0-65535), got "nowhere"',
      'CORDON_TLS_CERT_FILE and CORDON_TLS_KEY_FILE must be set together',
      'CORDON_TLS_CERT_FILE: file not found: /nonexistent.pem',
      'CORDON_LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"',
      'CORDON_KEY_ENCRYPTION_KEY: required with DATABASE_URL (every node must decrypt the same signing keys)',
      'CORDON_ISSUER: required with DATABASE_URL (every node must issue and accept the same iss: the public URL ' +
        'clients use)',
      'CORDON_DEMO: expected a boolean (true/false), got "maybe"',
      'CORDON_PG_POOL_MAX: expected an integer from 1 to 200, got "0"',
    ]);
    expect(JSON.stringify(problems)).not.toContain('hunter2');
  });

  it('requires one issuer for every node with DATABASE_URL (https://, or http:// on loopback)', () => {
    const env = {
      DATABASE_URL: 'postgres://db/cordon',
      CORDON_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64url'),
    };
    expect(() => loadConfig(env)).toThrow(
      expect.objectContaining({
        problems: [
          'CORDON_ISSUER: required with DATABASE_URL (every node must issue and accept the same iss: the public URL ' +
            'clients use)',
        ],
      }),
    );
    expect(loadConfig({ ...env, CORDON_ISSUER: 'https://cordon.example.com/' }).config.issuer).toBe(
      'https://cordon.example.com',
    );
    expect(loadConfig({ ...env, CORDON_ISSUER: 'http://127.0.0.1:8080' }).config.issuer).toBe('http://127.0.0.1:8080');
    expect(() => loadConfig({ ...env, CORDON_ISSUER: 'http://10.0.0.5:8080' })).toThrow(ConfigError);
    // Embedded (one node): the listen URL stays the default.
    expect(loadConfig({}).config.issuer).toBeUndefined();
  });

  it('checks the key-encryption key and the issuer without echoing the key', () => {
    let error: unknown;
    try {
      loadConfig({ CORDON_KEY_ENCRYPTION_KEY: 'c2hvcnQtc2VjcmV0', CORDON_ISSUER: 'http://cordon.example.com' });
    } catch (e) {
      error = e;
    }
    expect((error as ConfigError).problems).toEqual([
      'CORDON_KEY_ENCRYPTION_KEY: expected 32 bytes, base64 or base64url encoded',
      'CORDON_ISSUER: expected an https:// URL without query or fragment (http:// only on loopback), got ' +
        '"http://cordon.example.com"',
    ]);
    expect(JSON.stringify(error)).not.toContain('c2hvcnQtc2VjcmV0');
    const { config } = loadConfig({
      CORDON_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 5).toString('base64url'),
      CORDON_ISSUER: 'https://cordon.example.com/',
    });
    expect(config.keyEncryptionKey).toEqual(Buffer.alloc(32, 5));
    expect(config.issuer).toBe('https://cordon.example.com');
  });

  it('refuses plain HTTP on a non-loopback address unless told to', () => {
    expect(() => loadConfig({ CORDON_LISTEN: '0.0.0.0:8080' })).toThrow(
      /not a loopback address and TLS is not configured/,
    );
    const { config, notices } = loadConfig({ CORDON_LISTEN: '0.0.0.0:8080', CORDON_ALLOW_INSECURE_LISTEN: 'true' });
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(notices.join('\n')).toContain('trusted proxy');
    expect(loadConfig({ CORDON_LISTEN: '[::1]:9000' }).config.listen).toEqual({ host: '::1', port: 9000 });
  });

  it('reads trusted proxies, the metrics listener and token, reporting bad ones with the other problems', () => {
    let error: unknown;
    try {
      loadConfig({
        CORDON_TRUSTED_PROXIES: '10.0.0.0/8, proxy.internal,::1/129',
        CORDON_METRICS_LISTEN: 'anywhere',
        CORDON_METRICS_TOKEN: 'short secret',
        CORDON_LOG_LEVEL: 'loud',
      });
    } catch (e) {
      error = e;
    }
    expect((error as ConfigError).problems).toEqual([
      'CORDON_LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"',
      'CORDON_TRUSTED_PROXIES: expected IPv4 or IPv6 addresses or CIDRs, got "proxy.internal"',
      'CORDON_TRUSTED_PROXIES: expected IPv4 or IPv6 addresses or CIDRs, got "::1/129"',
      'CORDON_METRICS_LISTEN: expected HOST:PORT or off, got "anywhere"',
      'CORDON_METRICS_TOKEN: expected 32 to 256 printable characters, no spaces',
    ]);
    expect(JSON.stringify(error)).not.toContain('short secret');
    const defaults = loadConfig({}).config;
    expect([defaults.trustedProxies, defaults.metrics]).toEqual([
      [],
      { listen: { host: '127.0.0.1', port: 9464 }, token: undefined },
    ]);
    const { config, notices } = loadConfig({
      CORDON_TRUSTED_PROXIES: '10.0.0.0/8 2001:db8::1',
      CORDON_METRICS_LISTEN: '0.0.0.0:9464',
    });
    expect(config.trustedProxies).toEqual([
      { address: '10.0.0.0', prefix: 8, family: 'ipv4' },
      { address: '2001:db8::1', prefix: 128, family: 'ipv6' },
    ]);
    expect(notices.join('\n')).toContain('Serving /metrics on 0.0.0.0 without a token');
    expect(loadConfig({ CORDON_METRICS_LISTEN: 'off' }).config.metrics.listen).toBeUndefined();
  });

  it('finds the default CLI session file under the HOME of the environment given, not of the process', () => {
    expect(loadConfig({ HOME: '/home/someone' }).config.cliSessionFile).toBe(
      '/home/someone/.config/cordon/session.json',
    );
  });

  it('reads the leak-report key set: an https URL (http on loopback), or a file holding a key set', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cordon-config-'));
    try {
      const good = path.join(dir, 'keys.json');
      writeFileSync(good, '{"public_keys": []}');
      writeFileSync(path.join(dir, 'bad.json'), '{"keys": []}');
      const keys = (value: string) => loadConfig({ CORDON_SECRET_SCANNING_KEYS: value }).config.secretScanningKeys;
      expect([
        keys(good),
        keys('https://api.github.com/meta/public_keys/secret_scanning'),
        keys('http://[::1]:9/k'),
      ]).toEqual([
        { file: good },
        { url: 'https://api.github.com/meta/public_keys/secret_scanning' },
        { url: 'http://[::1]:9/k' },
      ]);
      expect(loadConfig({}).config.secretScanningKeys).toBeUndefined();
      const problems = (value: string) => {
        try {
          loadConfig({ CORDON_SECRET_SCANNING_KEYS: value });
          return [];
        } catch (error) {
          return (error as ConfigError).problems;
        }
      };
      expect([
        problems('http://keys.example/k'),
        problems(path.join(dir, 'none.json')),
        problems(path.join(dir, 'bad.json')),
      ]).toEqual([
        [
          'CORDON_SECRET_SCANNING_KEYS: expected an https:// URL (http:// only on loopback), got "http://keys.example/k"',
        ],
        [`CORDON_SECRET_SCANNING_KEYS: no such file "${path.join(dir, 'none.json')}"`],
        [
          `CORDON_SECRET_SCANNING_KEYS: "${path.join(dir, 'bad.json')}" is not a key set: ` +
            '{"public_keys": [...]} expected',
        ],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('command-line overrides win over the environment', () => {
    expect(loadConfig({ CORDON_LISTEN: '127.0.0.1:1' }, { CORDON_LISTEN: '127.0.0.1:2' }).config.listen.port).toBe(2);
  });

  it('documents exactly the options it reads', () => {
    const read = new Set<string>();
    const env = new Proxy(
      {},
      {
        get: (_target, key) => {
          read.add(String(key));
          return undefined;
        },
      },
    );
    loadConfig(env);
    // HOME too, undocumented: where the CLI session file is by default, as for any program.
    expect([...read].sort()).toEqual([...OPTIONS.map((o) => o.env), 'HOME'].sort());
    const docs = renderConfigDocs();
    for (const option of OPTIONS) expect(docs).toContain(`| \`${option.env}\` |`);
  });

  it('is documented in the README exactly as `cordon config docs` prints it', () => {
    expect(readFileSync(new URL('../README.md', import.meta.url), 'utf8')).toContain(renderConfigDocs());
  });
});
