import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  BACKENDS,
  createTestDatabase,
  describeBackends,
  openTestCore,
  type TestDatabase,
} from '../support/backends.js';
import { runCli, spawnCli, startServer, stopServer } from '../support/cli.js';
import { useTempDir } from '../support/temp-dir.js';

// Each CLI run opens the database (and the spawned ones start a Node process): slow on a busy 2-core machine.
vi.setConfig({ testTimeout: 180_000 });
const tempFile = useTempDir('cordon-cli-');

describe('cordon (no database)', () => {
  it('prints the configuration table', async () => {
    const { code, stdout } = await runCli(['config', 'docs'], {});
    expect(code).toBe(0);
    expect(stdout).toContain('| `DATABASE_URL` | postgres:// URL |');
    expect(stdout).toContain('| `CORDON_DATA_DIR` | path | ./.cordon |');
  });

  it('lists every configuration problem and exits 78', async () => {
    // In a process of its own: the exit code as a shell sees it.
    const { code, stderr } = await spawnCli(['users', 'list'], {
      CORDON_LISTEN: 'nowhere',
      CORDON_LOG_LEVEL: 'loud',
      CORDON_DEMO: 'perhaps',
    });
    expect(code).toBe(78);
    expect(stderr).toBe(
      [
        'cordon: invalid configuration (3 problems):',
        '  - CORDON_LISTEN: expected HOST:PORT (port 0-65535), got "nowhere"',
        '  - CORDON_LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"',
        '  - CORDON_DEMO: expected a boolean (true/false), got "perhaps"',
        '',
      ].join('\n'),
    );
  });

  it('refuses to serve on PostgreSQL without an issuer every node shares (exit 78)', async () => {
    const { code, stderr } = await runCli(['serve', '--listen', '127.0.0.1:0'], {
      DATABASE_URL: 'postgres://127.0.0.1:1/none',
      CORDON_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64url'),
    });
    expect([code, stderr]).toEqual([
      78,
      'cordon: invalid configuration (1 problem):\n' +
        '  - CORDON_ISSUER: required with DATABASE_URL (every node must issue and accept the same iss: the public ' +
        'URL clients use)\n',
    ]);
  });

  it('exits 2 on a usage error and documents its exit codes', async () => {
    expect((await spawnCli(['users', 'frobnicate'], {})).code).toBe(2);
    const help = await runCli(['--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes: 0 ok');
  });
});

describeBackends('cordon CLI', (backend) => {
  let database: TestDatabase;
  let env: Record<string, string>;

  beforeAll(async () => {
    database = await createTestDatabase(backend);
    // Materialize the migrated database (for PGlite: write the data dir) so the CLI skips initdb.
    await (await openTestCore(database)).close();
    env = { ...database.env, CORDON_DEMO: 'false' };
  });
  afterAll(() => database.drop());

  it('init, list, get, suspend, reactivate, with --json and meaningful exit codes', async () => {
    const init = await runCli(
      ['init', '--name', 'Acme', '--owner-email', 'boss@acme.example', '--owner-name', 'Boss', '--json'],
      env,
    );
    expect(init.code).toBe(0);
    const made = JSON.parse(init.stdout);
    expect(made.account_id).toMatch(/^[A-Z2-7]{26}$/);
    expect(made.owner).toMatchObject({
      email: 'boss@acme.example',
      user_id: expect.stringMatching(/^[A-Z2-7]{26}$/),
      password: expect.any(String),
    });
    expect(made.owner.password.length).toBeGreaterThanOrEqual(24);

    const file = tempFile(`import-${backend}.csv`);
    writeFileSync(
      file,
      'email,display_name,role,groups\nann@acme.example,Ann,member,SOC\nbob@acme.example,Bob,admin,SOC;Eng\n',
    );
    const imported = await runCli(['users', 'import', file, '--account', made.account_id], env);
    expect(imported.code).toBe(0);
    expect(imported.stdout).toContain(`imported 2 users into ${made.account_id}`);

    const list = JSON.parse((await runCli(['users', 'list', '--account', made.account_id, '--json'], env)).stdout);
    expect(Object.keys(list)).toEqual(['items']);
    expect(list.items.map((u: { email: string }) => u.email).sort()).toEqual([
      'ann@acme.example',
      'bob@acme.example',
      'boss@acme.example',
    ]);
    const ann = list.items.find((u: { email: string }) => u.email === 'ann@acme.example');
    expect(Object.keys(ann).sort()).toEqual([
      'create_time',
      'display_name',
      'email',
      'externally_managed',
      'id',
      'role',
      'state',
      'update_time',
    ]);

    const suspended = await runCli(
      ['users', 'suspend', ann.id, '--account', made.account_id, '--reason', 'phish', '--json'],
      env,
    );
    expect(suspended.code).toBe(0);
    expect(JSON.parse(suspended.stdout)).toMatchObject({
      changed: true,
      user: { id: ann.id, state: 'SUSPENDED' },
      sessions_revoked: [],
    });
    const again = await runCli(['users', 'suspend', ann.id, '--account', made.account_id], env);
    expect([again.code, again.stdout]).toEqual([0, 'ann@acme.example was already SUSPENDED; nothing changed\n']);
    const back = await runCli(['users', 'reactivate', ann.id, '--account', made.account_id], env);
    expect([back.code, back.stdout]).toEqual([0, 'ann@acme.example is now ACTIVE\n']);

    const owner = await runCli(['users', 'suspend', made.owner.user_id, '--account', made.account_id], env);
    expect([owner.code, owner.stderr]).toEqual([4, 'cordon: no_owner_remain [LAST_OWNER]\n']);
    const noAccount = await runCli(['users', 'list', '--account', 'NOSUCHACCOUNT'], env);
    expect([noAccount.code, noAccount.stderr]).toEqual([3, 'cordon: account not found [ACCOUNT_NOT_FOUND]\n']);
    const missing = await runCli(
      ['users', 'get', 'AAAAAAAAAAAAAAAAAAAAAAAAAA', '--account', made.account_id, '--json'],
      env,
    );
    expect(missing.code).toBe(3);
    expect(JSON.parse(missing.stdout)).toEqual({ error: { code: 'USER_NOT_FOUND', message: 'user not found' } });

    const bad = tempFile(`bad-${backend}.jsonl`);
    writeFileSync(
      bad,
      '{"email":"c@acme.example","display_name":"C"}\n{"email":"ann@acme.example","display_name":"Ann again"}\n' +
        'not json\n{"email":"bob@acme.example","display_name":"","role":"chief"}\n',
    );
    const rejected = await runCli(['users', 'import', bad, '--account', made.account_id], env);
    expect(rejected.code).toBe(2);
    // One line a row, with every problem of that row: its fields' and its email's.
    expect(rejected.stderr).toBe(
      'cordon: 5 problem(s) in 3 row(s); nothing was imported\n' +
        '  line 2: email: a user with this email already exists\n  line 3: not valid JSON\n' +
        '  line 4: display_name: expected 1 to 200 characters; role: expected one of OWNER, ADMIN, MEMBER; ' +
        'email: a user with this email already exists\n',
    );
    const count = JSON.parse((await runCli(['users', 'list', '--account', made.account_id, '--json'], env)).stdout)
      .items.length;
    expect(count).toBe(3);
  });
  it(
    'apps create prints the client secret once; get, list, ' + 'rotate-secret and disable never show the stored hash',
    async () => {
      const init = JSON.parse(
        (await runCli(['init', '--name', 'Apps Co', '--owner-email', 'boss@apps.example', '--json'], env)).stdout,
      );
      const account = ['--account', init.account_id];
      const created = await runCli(
        [
          'apps',
          'create',
          '--name',
          'SOAR',
          '--permissions',
          'users:list,users:suspend',
          '--protected-roles',
          'owner',
          '--max-suspensions-per-hour',
          '10',
          ...account,
          '--json',
        ],
        env,
      );
      expect(created.code).toBe(0);
      const app = JSON.parse(created.stdout);
      expect(app).toMatchObject({
        name: 'SOAR',
        permissions: ['users:list', 'users:suspend'],
        auth_method: 'client_secret_basic',
        constraints: { allowed_group_ids: [], protected_roles: ['OWNER'], max_suspensions_per_hour: 10 },
        client_secret: expect.stringMatching(/^cordon_cs_[0-9A-Za-z]{49}$/),
      });

      const got = await runCli(['apps', 'get', app.id, ...account, '--json'], env);
      expect(Object.keys(JSON.parse(got.stdout)).sort()).toEqual(
        [
          'auth_method',
          'client_id',
          'constraints',
          'create_time',
          'disable_time',
          'dpop_required',
          'id',
          'jwks',
          'name',
          'permissions',
          'secret_rotate_time',
        ].sort(),
      );
      expect(got.stdout).not.toContain(app.client_secret);
      expect(got.stdout).not.toContain('sha256$');

      const rotated = JSON.parse((await runCli(['apps', 'rotate-secret', app.id, ...account, '--json'], env)).stdout);
      expect(rotated.client_secret).not.toBe(app.client_secret);
      const disabled = await runCli(['apps', 'disable', app.id, ...account], env);
      expect([disabled.code, disabled.stdout]).toEqual([0, `disabled SOAR (${app.id})\n`]);
      const listed = JSON.parse((await runCli(['apps', 'list', ...account, '--json'], env)).stdout);
      expect(
        listed.items.map((a: { id: string; disable_time: string | null }) => [a.id, a.disable_time !== null]),
      ).toEqual([[app.id, true]]);
      expect(JSON.stringify(listed)).not.toContain(rotated.client_secret);

      const approve = await runCli(
        ['apps', 'create', '--name', 'Bad', '--permissions', 'approvals:approve', ...account],
        env,
      );
      expect(approve.code).toBe(2);
      expect(approve.stderr).toContain('permissions: unknown approvals:approve');
      expect((await runCli(['apps', 'get', 'AAAAAAAAAAAAAAAAAAAAAAAAAA', ...account], env)).code).toBe(3);

      const first = JSON.parse((await runCli(['keys', 'rotate', '--json'], env)).stdout);
      const second = JSON.parse((await runCli(['keys', 'rotate', '--json'], env)).stdout);
      expect(first).toEqual({ kid: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), retired: [] });
      expect(second).toEqual({ kid: expect.not.stringMatching(first.kid), retired: [first.kid] });
      // A kid is base64url and may begin with '-': after `--`, it is an argument, not an option.
      const revoked = await runCli(['keys', 'revoke', '--', second.kid], env);
      expect([revoked.code, revoked.stderr]).toEqual([0, '']);
      const replacement = /^revoked signing key (\S+); new signing key (\S+)\n$/.exec(revoked.stdout)!;
      expect(replacement[1]).toBe(second.kid);
      const keys = (
        JSON.parse((await runCli(['keys', 'list', '--json'], env)).stdout) as {
          items: Array<{ kid: string; status: string }>;
        }
      ).items;
      expect(keys.map((k) => [k.kid, k.status])).toEqual([
        [replacement[2], 'active'],
        [second.kid, 'revoked'],
        [first.kid, 'retired'],
      ]);
      expect((await runCli(['keys', 'revoke', '--', second.kid], env)).code).toBe(4);
      expect((await runCli(['keys', 'revoke', 'no-such-key'], env)).code).toBe(3);
    },
  );
});

if (BACKENDS.includes('pglite')) {
  describe('cordon serve on the embedded data dir', () => {
    let database: TestDatabase;
    beforeAll(async () => {
      database = await createTestDatabase('pglite');
      await (await openTestCore(database)).close();
    });
    afterAll(() => database.drop());

    it(
      'seeds the demo once, refuses a second process with ' + 'a clear message, and releases the lock on shutdown',
      async () => {
        const env = { ...database.env, CORDON_DEMO: 'true' };
        const first = await startServer(env);
        const banner = first.output.join('\n');
        const accountId = /Created the demo account "Demo Security Co" \(([A-Z2-7]{26})\)/.exec(banner)?.[1];
        expect(banner).toContain(
          'the owner, 3 admins, 25 members,\n' +
            'groups: Engineering, Finance, Security Operations, Contractors, 8 open sessions.',
        );
        // The next steps name this server and this account (banner.test.ts checks them whole).
        expect(banner).toContain(`npx cordon login --email owner@demo.cordon.test --server ${first.url}\n`);
        expect(banner).toContain(
          `curl -s -H "Authorization: Bearer ACCESS_TOKEN" ${first.url}/v1/accounts/${accountId}/users\n`,
        );
        expect(first.output.at(-2)).toBe(`The console is on ${first.url}/console`);
        expect(first.output.at(-1)).toMatch(
          /^Cordon is serving on \S+ \(pglite, ready in \d+ ms: database \d+ ms, migrations \d+ ms, demo \d+ ms, http \d+ ms\)$/,
        );
        const lockFile = path.join(database.env.CORDON_DATA_DIR!, 'cordon.lock');
        const lockBefore = readFileSync(lockFile, 'utf8');

        const second = await spawnCli(['serve', '--listen', '127.0.0.1:0'], env);
        expect(second.code).toBe(5);
        expect(second.stderr).toContain(`is in use by a Cordon server at ${first.url} (pid ${first.child.pid}`);
        // An admin command goes through the server, once signed in (cli-login.test.ts does that).
        // Until then: exit 5 (README, exit codes), with the whole command to sign in.
        const cli = await runCli(['users', 'list'], env);
        expect(cli.code).toBe(5);
        expect(cli.stderr).toContain(`a Cordon server at ${first.url} holds`);
        expect(cli.stderr).toContain(`sign in with \`cordon login --server ${first.url}\` and try again`);

        // The first server is untouched.
        expect(readFileSync(lockFile, 'utf8')).toBe(lockBefore);
        const ready = await fetch(`${first.url}/readyz`);
        expect(await ready.json()).toEqual({ status: 'ok', database: 'pglite' });
        expect(await stopServer(first.child)).toBe(0);
        expect(existsSync(lockFile)).toBe(false);

        // A later start reuses the data: no second demo account.
        const restarted = await startServer(env);
        expect(restarted.output.join('\n')).not.toContain('Created the demo account');
        await stopServer(restarted.child);
        const list = JSON.parse((await runCli(['users', 'list', '--json'], env)).stdout);
        expect(list.items).toHaveLength(29);
      },
    );
  });
}
