/**
 * The CLI speaks in names, through a running server as a signed-in person: `cordon login` asks for every
 * missing value (the TOTP code's question stays on the screen), approvals read `1 of 2`, restore plans name
 * their containment, a restore's drift reads as words, the restore policy is shown and set, a user may be
 * named by email, and the exit codes follow the README's table.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { base32Decode } from '../../src/base32.js';
import { timeStep, totpCode } from '../../src/directory/totp.js';
import { receiveSignal } from '../../src/response/engine.js';
import { applyPlaybooks } from '../../src/response/playbooks.js';
import { createTestDatabase, describeBackends, openTestCore, type TestDatabase } from '../support/backends.js';
import { runCli, startServer, stopServer } from '../support/cli.js';
import { testCtx } from '../support/fixtures.js';

vi.setConfig({ testTimeout: 600_000 });

/** What a terminal shows of what was written to it: lines, with carriage returns and line clears applied. */
function screen(text: string): string[] {
  const lines: string[] = [];
  let line = '';
  let col = 0;
  for (const token of text.split(/(\x1b\[[0-9;]*[A-Za-z]|\r\n|\n|\r)/)) {
    if (token === '\n' || token === '\r\n') {
      lines.push(line);
      line = '';
      col = 0;
    } else if (token === '\r' || token === '\x1b[1G' || token === '\x1b[0G') col = 0;
    else if (token === '\x1b[0J' || token === '\x1b[J' || token === '\x1b[0K' || token === '\x1b[K')
      line = line.slice(0, col);
    else if (!token.startsWith('\x1b')) {
      line = line.slice(0, col) + token + line.slice(col + token.length);
      col += token.length;
    }
  }
  return [...lines, line];
}

/** Runs `cordon ARGS` on a terminal: each answer is typed once its question is on the screen. */
async function onTerminal(args: string[], env: Record<string, string>, answers: Array<[string, string]>) {
  const stdin = Object.assign(new PassThrough(), { isTTY: true });
  let out = '';
  let err = '';
  const sink = (write: (s: string) => void) =>
    new Writable({
      write(chunk: Buffer | string, _enc, done) {
        write(String(chunk));
        done();
      },
    });
  const { main } = await import('../../src/cli/main.js');
  const exited = main(['node', 'cordon', ...args], {
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
    env: { ...process.env, CORDON_LOG_LEVEL: 'warn', ...env },
    stdin,
  });
  for (const [question, answer] of answers) {
    await vi.waitFor(() => expect(screen(err).at(-1)).toBe(question), { timeout: 30_000, interval: 20 });
    stdin.write(`${answer}\r`);
  }
  return { code: await exited, stdout: out, screen: screen(err) };
}

describeBackends('cordon speaks in names, as a signed-in person', (backend) => {
  let database: TestDatabase;
  let home: string;
  let env: Record<string, string>;
  let owner: { user_id: string; email: string; password: string; totp_secret: string };
  let adaContainment: string;
  let cyPlan: string;

  beforeAll(async () => {
    database = await createTestDatabase(backend);
    await (await openTestCore(database)).close();
    home = mkdtempSync(path.join(tmpdir(), 'cordon-names-'));
    env = { ...database.env, CORDON_DEMO: 'false', CORDON_CLI_SESSION_FILE: path.join(home, 'session.json') };
    const init = await runCli(
      ['init', '--name', 'Acme', '--owner-email', 'boss@acme.example', '--owner-name', 'Boss', '--json'],
      env,
    );
    owner = JSON.parse(init.stdout).owner;
    for (const args of [
      ['users', 'create', '--email', 'ada@acme.example', '--name', 'Ada', '--groups', 'SOC'],
      ['users', 'create', '--email', 'cy@acme.example', '--name', 'Cy'],
    ]) {
      const done = await runCli(args, env);
      expect(done.code, done.stderr).toBe(0);
    }
    const accountId = JSON.parse(init.stdout).account_id as string;
    const core = await openTestCore(database);
    try {
      await applyPlaybooks(core.response, testCtx, accountId, [
        { name: 'contain', match: { types: ['idp.*'] }, action: 'suspend', mode: 'auto' },
        { name: 'review', match: { types: ['edr.*'] }, action: 'suspend', mode: 'approval' },
      ]);
      const ctx = { actor: { type: 'app' as const, id: 'siem' }, authz: { method: 'bearer', client_id: 'siem' } };
      const signal = (id: string, type: string, title: string, email: string) => ({
        external_id: id,
        type,
        title,
        severity: 'high' as const,
        confidence: 0.9,
        subject: { email },
        observed_time: new Date().toISOString(),
        tags: [],
      });
      const contained = await receiveSignal(core.response, {
        accountId,
        sourceId: 'app:siem',
        signal: signal('s-1', 'idp.mfa-fatigue', 'MFA fatigue', 'ada@acme.example'),
        rawText: '{}',
        ctx,
      });
      adaContainment = (
        contained.plan!.verdicts as Array<{ step: string; details?: { containment_id?: string } }>
      ).find((v) => v.step === 'execute')!.details!.containment_id!;
      const pending = await receiveSignal(core.response, {
        accountId,
        sourceId: 'app:siem',
        signal: signal('s-2', 'edr.malware', 'Malware on laptop', 'cy@acme.example'),
        rawText: '{}',
        ctx,
      });
      cyPlan = pending.plan!.id;
    } finally {
      await core.close();
    }
  });
  afterAll(async () => {
    rmSync(home, { recursive: true, force: true });
    await database.drop();
  });

  it('exit codes follow the README: an audit entry past the end is 3', async () => {
    const missing = await runCli(['audit', 'proof', '99999'], env);
    expect([missing.code, missing.stdout]).toEqual([3, '']);
    expect(missing.stderr).toMatch(/^cordon: no audit entry 99999: the log has \d+ entries \[NOT_FOUND\]\n$/);
    const json = await runCli(['audit', 'proof', '99999', '--json'], env);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('login asks for every missing value; then approvals, restores and the restore policy speak in names', async () => {
    const server = await startServer(env);
    try {
      const login = await onTerminal(['login', '--server', server.url], env, [
        ['Email: ', 'boss@acme.example'],
        ['Password: ', owner.password],
        ['TOTP code: ', totpCode(base32Decode(owner.totp_secret), timeStep(Date.now() / 1000))],
      ]);
      expect(login.code, login.screen.join('\n')).toBe(0);
      // What the person saw: each question with the answer typed after it, the password not echoed.
      expect(login.screen.slice(0, 3)).toEqual([
        'Email: boss@acme.example',
        'Password: ',
        expect.stringMatching(/^TOTP code: \d{6}$/),
      ]);
      expect(login.stdout).toMatch(/^Signed in to \S+ as boss@acme\.example \(OWNER, account [A-Z2-7]{26}\) until /);
      const noTerminal = await runCli(['login', '--server', server.url], env);
      expect([noTerminal.code, noTerminal.stderr]).toEqual([
        2,
        'cordon: Email is required (no terminal to ask on: pass --email) [INVALID_ARGUMENT]\n',
      ]);
      const passwd = await runCli(['passwd', '--password-stdin'], env, `${owner.password}\nthe boss chose this one\n`);
      expect(passwd.code, passwd.stderr).toBe(0);

      const userIds = (
        JSON.parse((await runCli(['users', 'list', '--json'], env)).stdout) as { items: Array<{ id: string }> }
      ).items.map((u) => u.id);
      /** No table shows a person by a bare id. */
      const noPersonById = (output: string) => {
        for (const id of output.match(/\b[A-Z0-9]{26}\b/g) ?? []) expect(userIds, output).not.toContain(id);
      };
      const pending = await runCli(['approvals', 'list'], env);
      noPersonById(pending.stdout);
      expect(pending.stdout).toMatch(
        new RegExp(
          `${cyPlan} .*suspend.*Cy <cy@acme\\.example>.*Malware on laptop \\(high\\).*playbook review v1.*0 of 1`,
        ),
      );
      const approved = await runCli(['approvals', 'approve', cyPlan, '--reason', 'confirmed'], env);
      expect([approved.code, approved.stdout]).toEqual([0, `plan ${cyPlan}: executed (1 of 1 approvals)\n`]);

      // A user named by email where an id is accepted; then what changed since the suspension, in words.
      const groups = JSON.parse((await runCli(['groups', 'list', '--json'], env)).stdout) as {
        items: Array<{ id: string; name: string }>;
      };
      const soc = groups.items.find((g) => g.name === 'SOC')!.id;
      expect((await runCli(['groups', 'remove', soc, 'ada@acme.example'], env)).stdout).toBe('removed\n');

      expect((await runCli(['automation', 'restore-policy', 'show'], env)).stdout).toBe(
        'restores need 1 approval\napprovers: OWNERs, ADMINs\n',
      );
      const wrong = await runCli(['containments', 'restore', adaContainment, '--reason', 'because'], env);
      expect([wrong.code, wrong.stderr]).toEqual([
        2,
        'cordon: --reason must be restored or false_positive, got "because" [INVALID_ARGUMENT]\n',
      ]);
      const restored = await runCli(['containments', 'restore', adaContainment, '--reason', 'false_positive'], env);
      expect([restored.code, restored.stderr]).toEqual([0, '']);
      expect(restored.stdout).toMatch(
        /^restored \(false positive\)\ndrift: removed from SOC since \(stays removed\)\nverified: active, no session from before, memberships as now, removed memberships stay removed, stale plans void\n/,
      );

      // The two-person rule: the restore waits, 1 of 2, and its row names the containment it restores.
      const set = await runCli(['automation', 'restore-policy', 'set', '--approvals', '2'], env);
      expect([set.code, set.stdout]).toEqual([0, 'restores need 2 approvals\napprovers: OWNERs, ADMINs\n']);
      expect(JSON.parse((await runCli(['automation', 'restore-policy', 'show', '--json'], env)).stdout)).toEqual({
        restore_approvals: 2,
        approver_group_id: null,
      });
      const open = JSON.parse((await runCli(['containments', 'list', '--open', '--json'], env)).stdout) as {
        items: Array<{ id: string }>;
      };
      expect(open.items).toHaveLength(1);
      const cyContainment = open.items[0]!.id;
      const waits = await runCli(['containments', 'restore', cyContainment], env);
      const restorePlan = /^restore plan (\S+) waits for approval \(1 of 2: cordon approvals approve \1\)\n$/.exec(
        waits.stdout,
      );
      expect(restorePlan, waits.stdout + waits.stderr).not.toBeNull();
      const listed = await runCli(['approvals', 'list'], env);
      noPersonById(listed.stdout);
      expect(listed.stdout).toMatch(
        new RegExp(
          `${restorePlan![1]} .*restore.*Cy <cy@acme\\.example>.*restores containment ${cyContainment} ` +
            `\\(restored\\).*1 of 2`,
        ),
      );

      // explain names the approver and the subject.
      const explained = await runCli(['explain', cyPlan], env);
      expect(explained.code, explained.stderr).toBe(0);
      noPersonById(explained.stdout);
      expect(explained.stdout).toContain('subject    Cy <cy@acme.example>\n');
      expect(explained.stdout).toMatch(/\napproval {3}Boss <boss@acme\.example> approve at \S+: confirmed\n/);

      // Whom the policy protects, who paused the engine, who made an app: by name.
      const cy = (
        JSON.parse((await runCli(['users', 'get', 'cy@acme.example', '--json'], env)).stdout) as { id: string }
      ).id;
      const policyFile = path.join(home, 'policy.json');
      writeFileSync(policyFile, JSON.stringify({ roles: ['OWNER'], user_ids: [cy] }));
      expect((await runCli(['policy', 'apply', '-f', policyFile], env)).stdout).toBe('policy v1 (new version)\n');
      expect((await runCli(['policy', 'show'], env)).stdout).toBe(
        'policy v1: the engine never acts on\n  roles   OWNER\n  groups  none\n  users   Cy <cy@acme.example>\n' +
          '  emails  none\n',
      );
      expect(JSON.parse((await runCli(['policy', 'show', '--json'], env)).stdout)).toEqual({
        version: 1,
        document: { roles: ['OWNER'], user_ids: [cy] },
      });
      expect((await runCli(['automation', 'pause', '--reason', 'drill'], env)).stdout).toMatch(
        /^automation: PAUSED since \S+ by Boss <boss@acme\.example> \(drill\)\n/,
      );
      const app = JSON.parse(
        (await runCli(['apps', 'create', '--name', 'soar', '--permissions', 'users:read', '--json'], env)).stdout,
      ) as { id: string };
      expect((await runCli(['apps', 'get', app.id], env)).stdout).toContain(
        'Made by: Boss <boss@acme.example> (OWNER then)\n',
      );
    } finally {
      await stopServer(server.child);
    }
  });
});
