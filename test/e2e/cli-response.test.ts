import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { parseSecret } from '../../src/secret-format.js';
import { createCliAccount, describeBackends, openTestCore, type TestDatabase } from '../support/backends.js';
import { runCli } from '../support/cli.js';
import { useTempDir } from '../support/temp-dir.js';

vi.setConfig({ testTimeout: 180_000 });
const tempFile = useTempDir('cordon-cli-response-');
const fixture = (file: string) => new URL(`../fixtures/${file}`, import.meta.url).pathname;

describeBackends('cordon playbooks, policy, automation, sources', (backend) => {
  let database: TestDatabase;
  let env: Record<string, string>;
  let accountId: string;

  beforeAll(async () => {
    ({ database, env, accountId } = await createCliAccount(backend, 'ada.lovelace@example.com'));
  });
  afterAll(() => database.drop());

  it('lint: clean files pass, broken ones exit 2 naming each problem', async () => {
    const good = await runCli(['playbooks', 'lint', '-f', fixture('playbooks/contain-takeover.yaml')], env);
    expect(good).toMatchObject({ code: 0, stdout: '2 playbooks OK\n' });
    const bad = await runCli(['playbooks', 'lint', '-f', fixture('playbooks/invalid.yaml'), '--json'], env);
    expect(bad.code).toBe(2);
    const { ok, playbooks } = JSON.parse(bad.stdout);
    expect(ok).toBe(false);
    expect(playbooks[0].problems.map((p: { path: string }) => p.path)).toEqual(
      expect.arrayContaining(['/name', '/match/min_severity']),
    );
  });

  it('apply versions by content; history lists them; an unchanged apply makes no version', async () => {
    const first = await runCli(['playbooks', 'apply', '-f', fixture('playbooks/contain-takeover.yaml'), '--json'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).applied).toEqual([
      { name: 'contain-takeover', version: 1, content_hash: expect.stringMatching(/^[0-9a-f]{64}$/), changed: true },
      { name: 'watch-everything', version: 1, content_hash: expect.stringMatching(/^[0-9a-f]{64}$/), changed: true },
    ]);
    const again = await runCli(['playbooks', 'apply', '-f', fixture('playbooks/contain-takeover.yaml'), '--json'], env);
    expect(JSON.parse(again.stdout).applied.map((a: { changed: boolean }) => a.changed)).toEqual([false, false]);
    const edited = tempFile(`playbook-${backend}.json`);
    writeFileSync(
      edited,
      JSON.stringify({ name: 'watch-everything', priority: 2, match: { min_severity: 'low' }, action: 'notify' }),
    );
    expect(JSON.parse((await runCli(['playbooks', 'apply', '-f', edited, '--json'], env)).stdout).applied).toEqual([
      expect.objectContaining({ name: 'watch-everything', version: 2, changed: true }),
    ]);
    const history = await runCli(['playbooks', 'history', 'watch-everything', '--json'], env);
    expect(JSON.parse(history.stdout).items.map((v: { version: number }) => v.version)).toEqual([2, 1]);
    expect((await runCli(['playbooks', 'history', 'nope'], env)).code).toBe(3);
  });

  it('test is a dry run: the plan and every verdict, nothing written', async () => {
    expect((await runCli(['policy', 'apply', '-f', fixture('playbooks/policy.yaml')], env)).stdout).toBe(
      'policy v1 (new version)\n',
    );
    const core = await openTestCore(database);
    const count = async () =>
      (
        await core.database.db
          .selectFrom('signals')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .executeTakeFirstOrThrow()
      ).n;
    const before = await count();
    await core.close();
    const res = await runCli(
      [
        'playbooks',
        'test',
        '--signal',
        fixture('signals/ocsf-2004-impossible-travel.json'),
        '--format',
        'ocsf',
        '--json',
      ],
      env,
    );
    expect(res.code, res.stderr).toBe(0);
    const { signal, plan, duplicate } = JSON.parse(res.stdout);
    expect(duplicate).toBe(false);
    // The normalised signal, exactly as the OCSF guide and its fixture say (docs/siem/ocsf.md).
    expect(signal).toEqual({
      source_id: 'dry-run',
      ...JSON.parse(readFileSync(fixture('signals/ocsf-2004-impossible-travel.expected.json'), 'utf8')),
    });
    expect(plan).toMatchObject({
      id: null,
      status: 'would_execute',
      action: 'suspend',
      playbook: { name: 'contain-takeover', version: 1 },
      policy_version: 1,
    });
    expect(plan.verdicts.at(-1)).toEqual({
      step: 'execute',
      outcome: 'pass',
      reason: 'dry run: would suspend',
      details: { user_id: plan.subject_user_id },
    });
    const after = await openTestCore(database);
    expect(
      await (async () =>
        (
          await after.database.db
            .selectFrom('signals')
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .executeTakeFirstOrThrow()
        ).n)(),
    ).toBe(before);
    expect(
      (
        await after.database.db
          .selectFrom('users')
          .select('state')
          .where('email', '=', 'ada.lovelace@example.com')
          .executeTakeFirstOrThrow()
      ).state,
    ).toBe('ACTIVE');
    await after.close();
  });

  it('automation pause, cap and status; sources create prints its secret once, in the full URL', async () => {
    expect((await runCli(['automation', 'pause', '--reason', 'incident drill'], env)).code).toBe(0);
    expect((await runCli(['automation', 'cap', '--max', '7', '--window', '15m'], env)).code).toBe(0);
    const status = JSON.parse((await runCli(['automation', 'status', '--json'], env)).stdout);
    expect(status).toMatchObject({
      paused: true,
      pause_reason: 'incident drill',
      paused_by: expect.stringMatching(/^operator:/),
      breaker_cap: { max_actions: 7, window_seconds: 900 },
      tripped_breakers: [],
    });
    expect((await runCli(['automation', 'cap', '--max', '0', '--window', '15m'], env)).code).toBe(2);
    const created = await runCli(
      ['sources', 'create', '--name', 'splunk', '--format', 'splunk', '--auth', 'url_token', '--json'],
      env,
    );
    const { source, secret } = JSON.parse(created.stdout);
    expect(source).toMatchObject({
      name: 'splunk',
      format: 'splunk',
      auth: 'url_token',
      url: `http://127.0.0.1:8080/v1/accounts/${accountId}/sources/${source.id}/signals`,
    });
    expect(secret).toMatch(/^cordon_st_[0-9A-Za-z]{49}$/);
    expect(parseSecret(secret)).toEqual({ ok: true, kind: 'st' });
    // People get the URL to paste, on the public host (CORDON_ISSUER), the token in it.
    const soc = { ...env, CORDON_ISSUER: 'https://cordon.soc.example.com' };
    const human = await runCli(
      ['sources', 'create', '--name', 'azure', '--format', 'azure', '--auth', 'url_token'],
      soc,
    );
    expect(human.code, human.stderr).toBe(0);
    const [, azureId, token] =
      /^source ([A-Z2-7]{26}) \(azure: azure, url_token\)\n {2}URL: \S+\?token=(cordon_st_[0-9A-Za-z]{49})\n/.exec(
        human.stdout,
      ) ?? [];
    expect(human.stdout).toBe(
      `source ${azureId} (azure: azure, url_token)\n` +
        `  URL: https://cordon.soc.example.com/v1/accounts/${accountId}/sources/${azureId}/signals?token=${token}\n` +
        '  The URL holds the token: it is shown only now.\n' +
        '  Default confidence: 0.5 (for its alerts that carry none)\n' +
        '  Guide: docs/siem/azure.md\n',
    );
    const hmac = await runCli(
      ['sources', 'create', '--name', 'ocsf', '--format', 'ocsf', '--auth', 'hmac', '--default-confidence', '0.9'],
      soc,
    );
    expect(hmac.stdout).toMatch(
      new RegExp(
        '^source [A-Z2-7]{26} \\(ocsf: ocsf, hmac\\)\\n' +
          `  URL: https://cordon\\.soc\\.example\\.com/v1/accounts/${accountId}/sources/[A-Z2-7]{26}/signals\\n` +
          '  HMAC secret: cordon_sh_[0-9A-Za-z]{49}\\n',
      ),
    );
    expect(hmac.stdout).toContain('\n  Default confidence: 0.9 (for its alerts that carry none)\n');
    const bad = ['sources', 'create', '--name', 'x', '--format', 'ocsf', '--auth', 'hmac', '--default-confidence'];
    expect(await runCli([...bad, '1.5'], env)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--default-confidence must be a number from 0 to 1'),
    });
    const list = await runCli(['sources', 'list', '--json'], env);
    expect(list.stdout).not.toContain(secret);
    expect(list.stdout).not.toContain(token);
    expect(JSON.parse(list.stdout).items.find((s: { id: string }) => s.id === source.id)).toEqual(source);
    expect(readFileSync(fixture('playbooks/policy.yaml'), 'utf8')).toContain('Break Glass');
    expect(accountId).toMatch(/^[A-Z2-7]{26}$/);
  });
});
