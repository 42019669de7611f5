import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { base32Decode } from '../../src/base32.js';
import { timeStep, totpCode } from '../../src/directory/totp.js';
import { listAuditEntries } from '../../src/store/audit.js';
import { createTestDatabase, describeBackends, openTestCore, type TestDatabase } from '../support/backends.js';
import { runCli, startServer, stopServer } from '../support/cli.js';

// Each CLI run opens the database or calls the server: slow on a busy 2-core machine.
vi.setConfig({ testTimeout: 180_000 });

const code = (seed: string, offset = 0) => totpCode(base32Decode(seed), timeStep(Date.now() / 1000) + offset);

describeBackends('cordon login: admin commands through the API', (backend) => {
  let database: TestDatabase;
  let env: Record<string, string>;
  let home: string;

  beforeAll(async () => {
    database = await createTestDatabase(backend);
    await (await openTestCore(database)).close();
    home = mkdtempSync(path.join(tmpdir(), 'cordon-login-'));
    env = { ...database.env, CORDON_DEMO: 'false', CORDON_CLI_SESSION_FILE: path.join(home, 'cordon', 'session.json') };
  });
  afterAll(async () => {
    rmSync(home, { recursive: true, force: true });
    await database.drop();
  });

  it('bootstraps directly, then signs in and administers through the running server', async () => {
    const init = JSON.parse(
      (await runCli(['init', '--name', 'Acme', '--owner-email', 'boss@acme.example', '--json'], env)).stdout,
    );
    expect(init.owner.totp_uri).toBe(
      `otpauth://totp/Cordon:boss%40acme.example?secret=` +
        `${init.owner.totp_secret}&issuer=Cordon&algorithm=SHA1&digits=6&period=30`,
    );
    const direct = await runCli(
      ['apps', 'create', '--name', 'bootstrap', '--permissions', 'users:list', '--json'],
      env,
    );
    expect(direct.code).toBe(0);

    const server = await startServer(env);
    try {
      // /metrics is on its own listener (a free loopback port here), which serve prints, not on the public one.
      let metricsUrl: string | undefined;
      while (
        !(metricsUrl = /^Prometheus metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)$/m.exec(
          server.output.join('\n'),
        )?.[1])
      )
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect((await fetch(metricsUrl)).status).toBe(200);
      expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
      if (backend === 'pglite') {
        // The server holds the data dir: exit 5 (README, exit codes), with the whole command to get through.
        const refused = await runCli(['apps', 'create', '--name', 'x', '--permissions', 'users:list'], env);
        expect([refused.code, refused.stdout, refused.stderr]).toEqual([
          5,
          '',
          `cordon: a Cordon server at ${server.url} holds ${env.CORDON_DATA_DIR}: sign in with ` +
            `\`cordon login --server ${server.url}\` and try again [UNAVAILABLE]\n`,
        ]);
      }
      const badLogin = await runCli(
        [
          'login',
          '--server',
          server.url,
          '--email',
          'boss@acme.example',
          '--password-stdin',
          '--totp',
          code(init.owner.totp_secret),
        ],
        env,
        'wrong\n',
      );
      expect(badLogin.code).toBe(4);
      expect(badLogin.stderr).toBe('cordon: sign-in failed: wrong email, password or code [SIGN_IN_FAILED]\n');

      const login = await runCli(
        [
          'login',
          '--server',
          server.url,
          '--email',
          'boss@acme.example',
          '--password-stdin',
          '--totp',
          code(init.owner.totp_secret),
          '--json',
        ],
        env,
        `${init.owner.password}\n`,
      );
      expect(login.code, login.stderr).toBe(0);
      expect(JSON.parse(login.stdout)).toMatchObject({
        server: server.url,
        account_id: init.account_id,
        email: 'boss@acme.example',
        role: 'OWNER',
        password_change_required: true,
      });
      expect(login.stdout).not.toContain('cordon_sess_');
      expect(statSync(env.CORDON_CLI_SESSION_FILE!).mode & 0o777).toBe(0o600);

      // The password init printed was generated: nothing but the change goes through until it is replaced.
      const whoami = await runCli(['whoami'], env);
      expect(whoami.stdout).toMatch(
        /^boss@acme\.example \(OWNER\) on \S+, account [A-Z2-7]{26}, until \S+\nYour password was generated: change it before anything else with `npx cordon passwd`\.\n$/,
      );
      const blocked = await runCli(['apps', 'list'], env);
      expect([blocked.code, blocked.stderr]).toEqual([
        4,
        'cordon: password_change_required: change the generated password first (POST /v1/auth/password, or `cordon ' +
          'passwd`) [PASSWORD_CHANGE_REQUIRED]\n',
      ]);
      const weak = await runCli(['passwd', '--password-stdin'], env, `${init.owner.password}\nshort\n`);
      expect([weak.code, weak.stderr]).toEqual([
        2,
        'cordon: weak_password: the new password needs at least 12 characters [WEAK_PASSWORD]\n',
      ]);
      const oneLine = await runCli(['passwd', '--password-stdin'], env, `${init.owner.password}\n`);
      expect([oneLine.code, oneLine.stderr]).toEqual([
        2,
        'cordon: --password-stdin takes two lines: the current password, then the new one [INVALID_ARGUMENT]\n',
      ]);
      const passwd = await runCli(
        ['passwd', '--password-stdin'],
        env,
        `${init.owner.password}\nthe boss chose this one\n`,
      );
      expect([passwd.code, passwd.stdout, passwd.stderr]).toEqual([
        0,
        'Password changed for boss@acme.example; 0 other session(s) signed out. This session stays signed in.\n',
        '',
      ]);
      expect((await runCli(['whoami', '--json'], env)).stdout).toContain('"password_change_required": false');

      const created = await runCli(
        [
          'apps',
          'create',
          '--name',
          'soar',
          '--permissions',
          'users:suspend,users:read',
          '--max-suspensions-per-hour',
          '5',
          '--json',
        ],
        env,
      );
      expect(created.code, created.stderr).toBe(0);
      const app = JSON.parse(created.stdout);
      expect(app).toMatchObject({
        name: 'soar',
        permissions: ['users:suspend', 'users:read'],
        constraints: { max_suspensions_per_hour: 5 },
        client_secret: expect.stringMatching(/^cordon_cs_[0-9A-Za-z]{49}$/),
      });
      const listed = JSON.parse((await runCli(['apps', 'list', '--json'], env)).stdout);
      expect(Object.keys(listed)).toEqual(['items']);
      expect(listed.items.map((a: { name: string }) => a.name)).toEqual(['bootstrap', 'soar']);
      expect((await runCli(['apps', 'disable', app.id, '--json'], env)).code).toBe(0);
      const missing = await runCli(['apps', 'get', 'AAAAAAAAAAAAAAAAAAAAAAAAAA'], env);
      expect([missing.code, missing.stderr]).toEqual([3, 'cordon: app not found [NOT_FOUND]\n']);

      // Users and groups through the API, as the signed-in owner.
      const made = await runCli(
        ['users', 'create', '--email', 'ann@acme.example', '--name', 'Ann', '--groups', 'Oncall', '--json'],
        env,
      );
      expect(made.code, made.stderr).toBe(0);
      const ann = JSON.parse(made.stdout);
      expect(ann).toMatchObject({
        email: 'ann@acme.example',
        role: 'MEMBER',
        state: 'ACTIVE',
        group_ids: [expect.any(String)],
      });
      const suspended = await runCli(['users', 'suspend', ann.id, '--reason', 'phished', '--json'], env);
      expect(suspended.code, suspended.stderr).toBe(0);
      expect(JSON.parse(suspended.stdout)).toMatchObject({ user: { id: ann.id, state: 'SUSPENDED' }, changed: true });
      expect((await runCli(['users', 'suspend', ann.id], env)).stdout).toBe(
        'ann@acme.example was already SUSPENDED; nothing changed\n',
      );
      const listedUsers = JSON.parse((await runCli(['users', 'list', '--state', 'suspended', '--json'], env)).stdout);
      expect(listedUsers.items.map((u: { id: string }) => u.id)).toEqual([ann.id]);
      const owner = await runCli(['users', 'suspend', init.owner.user_id], env);
      expect([owner.code, owner.stderr]).toEqual([4, 'cordon: no_owner_remain [LAST_OWNER]\n']);
      const groups = JSON.parse((await runCli(['groups', 'list', '--json'], env)).stdout);
      expect(groups.items).toEqual([
        { id: ann.group_ids[0], name: 'Oncall', member_ids: [ann.id], create_time: expect.any(String) },
      ]);
      expect((await runCli(['groups', 'remove', ann.group_ids[0], ann.id], env)).stdout).toBe('removed\n');
      expect(JSON.parse((await runCli(['users', 'get', ann.id, '--json'], env)).stdout)).toMatchObject({
        id: ann.id,
        state: 'SUSPENDED',
        group_ids: [],
      });

      // The audit log through the API: the latest entries, and one entry proven against the signed checkpoint.
      // The server numbers an entry a moment after it commits (and an earlier call's entry may still be
      // waiting for its number): ask until the last two are numbered.
      const lastTwo = async () => {
        const tail = await runCli(['audit', 'tail', '-n', '2', '--json'], env);
        expect(tail.code, tail.stderr).toBe(0);
        return tail.stdout
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as { action: string }).action);
      };
      await vi.waitFor(async () => expect(await lastTwo()).toEqual(['membership.remove', 'user.read']), {
        timeout: 30_000,
        interval: 100,
      });
      const proof = await runCli(['audit', 'proof', '0'], env);
      expect(proof.code, proof.stderr).toBe(0);
      expect(proof.stdout).toMatch(
        /^0\t\S+\toperator:\S+\taccount\.create\taccount:[A-Z2-7]{26}\tchanged\nincluded in the signed tree of size \d+ \(root [0-9a-f]{64}\)\n$/,
      );

      const { keys } = (await (await fetch(`${server.url}/v1/audit/keys?log=${init.account_id}`)).json()) as {
        keys: Array<{ verifier_key: string }>;
      };
      const live = await runCli(['audit', 'verify', '--key', keys[0]!.verifier_key], env);
      expect(live.code, live.stderr).toBe(0);
      expect(live.stdout).toMatch(/^OK: \d+ entries of log [A-Z2-7]{26} reproduce the signed root [0-9a-f]{64}\n$/);

      const reset = await runCli(['users', 'reset-credentials', init.owner.user_id, '--json'], env);
      expect(reset.code, reset.stderr).toBe(0);
      expect(JSON.parse(reset.stdout)).toMatchObject({
        user_id: init.owner.user_id,
        email: 'boss@acme.example',
        password: expect.any(String),
        totp_secret: expect.any(String),
      });
      // The reset revoked the owner's sessions, this one included.
      const gone = await runCli(['whoami'], env);
      expect(gone.code).toBe(4);
      expect(gone.stderr).toContain('run `cordon login`');
      expect((await runCli(['logout'], env)).stdout).toContain(`Signed out of ${server.url}`);
    } finally {
      await stopServer(server.child);
    }

    // Directly on the database again: export and verify offline, with the key pinned.
    const file = path.join(home, 'audit.jsonl');
    const exported = await runCli(['audit', 'export', '--out', file], env);
    expect(exported.code, exported.stderr).toBe(0);
    const core = await openTestCore(database);
    try {
      const verified = await runCli(
        ['audit', 'verify', file, '--key', core.checkpointKey.forLog(init.account_id).verifierKey],
        env,
      );
      expect(verified.code, verified.stderr).toBe(0);
      expect(verified.stdout).toMatch(/^OK: \d+ entries of log [A-Z2-7]{26} reproduce the signed root [0-9a-f]{64}\n$/);
      await core.audit.sequencer.drain();
      const entries = await listAuditEntries(core.database.db, { accountId: init.account_id });
      const byAction = (action: string) =>
        entries.filter((e) => e.action === action).map((e) => `${e.actor_type}:${e.outcome}`);
      expect(byAction('app.create')).toEqual(['operator:changed', 'user:changed']);
      expect(byAction('user.sign_in')).toEqual(['anonymous:refused', 'user:changed']);
      expect(byAction('user.credentials.reset')).toEqual(['user:changed']);
      expect(byAction('user.password.change')).toEqual(['user:refused', 'user:changed']);
      // The suspensions went through the Users API as the owner, with the reason given.
      const suspensions = entries.filter((e) => e.action === 'user.suspend');
      expect(suspensions.map((e) => [e.actor_type, e.actor_id, e.outcome])).toEqual([
        ['user', init.owner.user_id, 'changed'],
        ['user', init.owner.user_id, 'unchanged'],
        ['user', init.owner.user_id, 'refused'],
      ]);
      expect(suspensions[0]!.cause).toEqual({ reason: 'phished' });
    } finally {
      await core.close();
    }
  });
});
