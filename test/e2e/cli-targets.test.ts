import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { createCliAccount, describeBackends, openTestCore, type TestDatabase } from '../support/backends.js';
import { runCli, type CliResult } from '../support/cli.js';
import { fakeTarget, person, type FakeTarget } from '../support/fake-target.js';
import { auditTrail } from '../support/fixtures.js';
import { useTempDir } from '../support/temp-dir.js';

vi.setConfig({ testTimeout: 180_000 });
const tempFile = useTempDir('cordon-cli-targets-');
const TOKEN = 'cli-bearer-token-never-shown';
const OTHER = 'cli-bearer-token-rotated';

/**
 * `cordon targets …` as the local operator: credentials from a file or standard input, never printed;
 * each command's answer and exit code. A connector kind of the test's own stands in for `scim`.
 */
describeBackends('cordon targets', (backend) => {
  let database: TestDatabase;
  let env: Record<string, string>;
  let accountId: string;
  let fake: FakeTarget;
  let restore: () => void;
  const outputs: string[] = [];

  beforeAll(async () => {
    ({ database, env, accountId } = await createCliAccount(backend, 'ada@acme.example'));
    fake = fakeTarget();
    restore = fake.install('scim');
  });
  afterAll(async () => {
    restore();
    await database?.drop();
  });

  const cordon = async (args: string[], input?: string): Promise<CliResult> => {
    const result = await runCli(['targets', ...args], env, input);
    outputs.push(result.stdout, result.stderr);
    return result;
  };

  it('adds a target with credentials from standard input or a file, and shows it without them', async () => {
    const added = await cordon(
      ['add', 'hr', '--kind', 'scim', '--base-url', 'https://hr.example/scim/v2', '--credentials', '-', '--json'],
      JSON.stringify({ token: TOKEN }),
    );
    expect(added.code, added.stderr).toBe(0);
    const target = JSON.parse(added.stdout) as { id: string };
    expect(target).toMatchObject({ name: 'hr', kind: 'scim', config: { base_url: 'https://hr.example/scim/v2' } });
    const file = tempFile('creds.json');
    writeFileSync(file, JSON.stringify({ token: TOKEN }));
    const second = await cordon([
      'add',
      'crm',
      '--kind',
      'scim',
      '--base-url',
      'https://crm.example',
      '--credentials',
      file,
      '--sync-interval',
      '600',
    ]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('Sync: every 600 s');
    expect(second.stdout).toContain('Credentials: sealed; never rotated');

    const listed = await cordon(['list', '--json']);
    expect((JSON.parse(listed.stdout) as { items: Array<{ name: string }> }).items.map((t) => t.name)).toEqual([
      'crm',
      'hr',
    ]);
    const shown = await cordon(['show', target.id, '--json']);
    expect(JSON.parse(shown.stdout)).toEqual(target);
  });

  it('refuses what it cannot use, with exit code 2 and why', async () => {
    const cases: Array<[string[], string | undefined, string]> = [
      [
        ['add', 'x', '--kind', 'scim', '--endpoint', 'https://x', '--credentials', '-'],
        '{"token":"t"}',
        'cordon: --endpoint is for gtr targets [INVALID_ARGUMENT]\n',
      ],
      [
        ['add', 'x', '--kind', 'scim', '--base-url', 'https://x', '--credentials', '-'],
        'token=t',
        'cordon: --credentials: standard input is not JSON [INVALID_ARGUMENT]\n',
      ],
      [
        ['add', 'x', '--kind', 'scim', '--base-url', 'ftp://x', '--credentials', '-'],
        '{"token":"t"}',
        'cordon: config.base_url: expected an http(s) URL [INVALID_ARGUMENT]\n',
      ],
    ];
    for (const [args, input, stderr] of cases) {
      const result = await cordon(args, input);
      expect([result.code, result.stderr], args.join(' ')).toEqual([2, stderr]);
    }
    const taken = await cordon(
      ['add', 'hr', '--kind', 'scim', '--base-url', 'https://x', '--credentials', '-'],
      '{"token":"t"}',
    );
    expect([taken.code, taken.stderr]).toEqual([4, 'cordon: a target named hr already exists [ALREADY_EXISTS]\n']);
  });

  it('tests, rotates, syncs, disables, enables and removes', async () => {
    expect(await cordon(['test', 'hr'])).toEqual({ code: 0, stdout: 'ok: hr answered in 3 ms\n', stderr: '' });
    expect(
      await cordon(['rotate', 'hr', '--credentials', '-'], JSON.stringify({ token: `wrong-${OTHER}` })),
    ).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^rotated the credentials of hr \([A-Z2-7]{26}\)\n$/),
    });
    expect(await cordon(['test', 'hr'])).toEqual({
      code: 1,
      stdout: 'failed after 3 ms: auth: 401 invalid_token token rejected (request id r-1)\n',
      stderr: '',
    });
    await cordon(['rotate', 'hr', '--credentials', '-'], JSON.stringify({ token: OTHER }));
    fake.users.set('a', person('a', 'ann@x.example'));
    fake.users.set('b', person('b', 'bob@x.example'));
    fake.users.set('c', person('c', 'cy@x.example'));
    expect(await cordon(['sync', 'hr'])).toMatchObject({ code: 0, stdout: 'synced hr: 3 users in 2 pages, 0 gone\n' });
    fake.users.delete('b');
    expect(await cordon(['sync', 'hr', '--subject', 'bob@x.example'])).toMatchObject({
      code: 0,
      stdout: 'synced bob@x.example on hr: not there, 1 mirrored identity removed\n',
    });
    expect((await cordon(['disable', 'hr'])).stdout).toMatch(/^disabled hr \([A-Z2-7]{26}\)\n$/);
    expect(JSON.parse((await cordon(['show', 'hr', '--json'])).stdout)).toMatchObject({
      enabled: false,
      identities: 2,
    });
    expect((await cordon(['enable', 'hr'])).stdout).toMatch(/^enabled hr \([A-Z2-7]{26}\)\n$/);
    expect(await cordon(['remove', 'hr'])).toEqual({ code: 0, stdout: 'removed hr\n', stderr: '' });
    expect(await cordon(['show', 'hr'])).toEqual({
      code: 3,
      stdout: '',
      stderr: 'cordon: target not found [NOT_FOUND]\n',
    });
    expect((await cordon(['list'])).stdout).not.toContain(' hr ');
  });

  it('audits every change as the operator and never prints or records the credentials', async () => {
    const core = await openTestCore(database);
    try {
      const trail = await auditTrail(core, accountId);
      const ours = trail.filter((e) => e.action.startsWith('target.'));
      expect(ours.filter((e) => e.outcome !== 'refused').map((e) => [e.actor_type, e.action])).toEqual([
        ['operator', 'target.create'],
        ['operator', 'target.create'],
        ['operator', 'target.test'],
        ['operator', 'target.credentials.rotate'],
        ['operator', 'target.test'],
        ['operator', 'target.credentials.rotate'],
        ['operator', 'target.sync'],
        ['operator', 'target.sync'],
        ['operator', 'target.update'],
        ['operator', 'target.update'],
        ['operator', 'target.remove'],
      ]);
      const text = [...outputs, JSON.stringify(trail)].join('\n');
      for (const secret of [TOKEN, OTHER]) expect(text).not.toContain(secret);
    } finally {
      await core.close();
    }
  });
});
