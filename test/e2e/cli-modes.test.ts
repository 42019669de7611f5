/**
 * Every admin command has one body, the API's: run with a server holding the data (HTTP, as the person
 * `cordon login` signed in) and without one (in process, as the local operator), every read command
 * prints the same thing. Also: `users import` works while a server runs, and a served instance refuses
 * the local operator's scheme.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { timeStep, totpCode } from '../../src/directory/totp.js';
import { base32Decode } from '../../src/base32.js';
import { buildServer } from '../../src/http/server.js';
import { receiveSignal } from '../../src/response/engine.js';
import { applyPlaybooks } from '../../src/response/playbooks.js';
import { describeBackends, createTestDatabase, openTestCore, type TestDatabase } from '../support/backends.js';
import { runCli, startServer, stopServer } from '../support/cli.js';
import { testCtx } from '../support/fixtures.js';

vi.setConfig({ testTimeout: 600_000 });
const fixture = (file: string) => new URL(`../fixtures/${file}`, import.meta.url).pathname;
const code = (seed: string) => totpCode(base32Decode(seed), timeStep(Date.now() / 1000));

describeBackends('cordon: the same output with and without a server', (backend) => {
  let database: TestDatabase;
  let home: string;
  /** No saved session: with no server holding the data, commands run in process. */
  let local: Record<string, string>;
  /** The session `cordon login` saves: commands go through the server. */
  let remote: Record<string, string>;
  let accountId: string;
  let owner: { user_id: string; email: string; password: string; totp_secret: string };
  let ada: string;
  let containmentId: string;

  beforeAll(async () => {
    database = await createTestDatabase(backend);
    await (await openTestCore(database)).close();
    home = mkdtempSync(path.join(tmpdir(), 'cordon-modes-'));
    local = { ...database.env, CORDON_DEMO: 'false', CORDON_CLI_SESSION_FILE: path.join(home, 'none.json') };
    remote = { ...local, CORDON_CLI_SESSION_FILE: path.join(home, 'session.json') };

    const init = JSON.parse(
      (
        await runCli(
          ['init', '--name', 'Acme', '--owner-email', 'boss@acme.example', '--owner-name', 'Boss', '--json'],
          local,
        )
      ).stdout,
    );
    accountId = init.account_id;
    owner = init.owner;
    const made = await runCli(
      ['users', 'create', '--email', 'ada@acme.example', '--name', 'Ada', '--groups', 'SOC', '--json'],
      local,
    );
    expect(made.code, made.stderr).toBe(0);
    ada = JSON.parse(made.stdout).id;
    for (const args of [
      ['users', 'create', '--email', 'eve@acme.example', '--name', 'Eve', '--role', 'ADMIN', '--externally-managed'],
      ['apps', 'create', '--name', 'soar', '--permissions', 'users:list,users:suspend', '--protected-roles', 'owner'],
      ['policy', 'apply', '-f', fixture('playbooks/policy.yaml')],
      ['sources', 'create', '--name', 'splunk', '--format', 'splunk', '--auth', 'hmac'],
      ['automation', 'cap', '--max', '7', '--window', '15m'],
    ]) {
      const done = await runCli(args, local);
      expect(done.code, `${args.join(' ')}: ${done.stderr}`).toBe(0);
    }

    // A suspension the engine made (a containment), and a plan waiting for approval.
    const core = await openTestCore(database);
    try {
      await applyPlaybooks(core.response, testCtx, accountId, [
        { name: 'contain', match: { types: ['idp.*'] }, action: 'suspend', mode: 'auto' },
        { name: 'review', match: { types: ['edr.*'] }, action: 'suspend', mode: 'approval' },
      ]);
      const submitter = { actor: { type: 'app' as const, id: 'siem' }, authz: { method: 'bearer', client_id: 'siem' } };
      const signal = (id: string, type: string, email: string) => ({
        external_id: id,
        type,
        title: type,
        severity: 'high' as const,
        confidence: 0.9,
        subject: { email },
        observed_time: new Date().toISOString(),
        tags: [],
      });
      const contained = await receiveSignal(core.response, {
        accountId,
        sourceId: 'app:siem',
        signal: signal('s-1', 'idp.mfa-fatigue', 'ada@acme.example'),
        rawText: '{}',
        ctx: submitter,
      });
      containmentId = (contained.plan!.verdicts as Array<{ step: string; details?: { containment_id?: string } }>).find(
        (v) => v.step === 'execute',
      )!.details!.containment_id!;
      await receiveSignal(core.response, {
        accountId,
        sourceId: 'app:siem',
        signal: signal('s-2', 'edr.malware', 'eve@acme.example'),
        rawText: '{}',
        ctx: submitter,
      });

      // The in-process instance admits its own secret only, and never listens.
      const secret = Buffer.alloc(32, 1).toString('base64url');
      const http = await buildServer(core, { operatorSecret: secret });
      try {
        expect(
          (await http.inject({ url: '/v1/accounts', headers: { authorization: `Operator ${secret}` } })).json(),
        ).toEqual({ accounts: [expect.objectContaining({ id: accountId, name: 'Acme' })] });
        const wrong = await http.inject({
          url: '/v1/accounts',
          headers: { authorization: `Operator ${Buffer.alloc(32, 2).toString('base64url')}` },
        });
        expect(wrong.statusCode).toBe(401);
        expect(() => http.listen({ port: 0 })).toThrow(/never listens/);
      } finally {
        await http.close();
      }
    } finally {
      await core.close();
    }
  });
  afterAll(async () => {
    rmSync(home, { recursive: true, force: true });
    await database.drop();
  });

  /** Every read command, by `cordon --help`: with --json, and as a table where it prints one. */
  const reads = () => [
    ['users', 'list'],
    ['users', 'list', '--json'],
    ['users', 'list', '--state', 'suspended', '--json'],
    ['users', 'get', ada],
    ['users', 'get', 'eve@acme.example', '--json'],
    ['users', 'sessions', owner.user_id, '--json'],
    ['groups', 'list'],
    ['groups', 'list', '--json'],
    ['apps', 'list', '--json'],
    ['playbooks', 'list'],
    ['playbooks', 'history', 'review', '--json'],
    ['playbooks', 'list', '--json'],
    ['policy', 'show'],
    ['policy', 'show', '--json'],
    ['automation', 'status'],
    ['automation', 'status', '--json'],
    ['automation', 'restore-policy', 'show'],
    ['sources', 'list', '--json'],
    ['approvals', 'list'],
    ['approvals', 'list', '--json'],
    ['containments', 'list'],
    ['containments', 'list', '--json'],
    ['containments', 'show', containmentId],
    ['containments', 'show', containmentId, '--json'],
  ];

  async function readAll(env: Record<string, string>): Promise<string[]> {
    const outputs: string[] = [];
    for (const args of reads()) {
      const result = await runCli(args, env);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
      outputs.push(`$ cordon ${args.join(' ')}\n${result.stdout}`);
    }
    // The audit log grows with every read (reads are audited), so only what is fixed is compared.
    const proof = await runCli(['audit', 'proof', '0'], env);
    expect(proof.code, proof.stderr).toBe(0);
    outputs.push(`$ cordon audit proof 0\n${proof.stdout.split('\n')[0]}`);
    // explain: the chain is fixed; its proof is against whichever checkpoint is latest.
    const explained = await runCli(['explain', containmentId, '--json'], env);
    expect(explained.code, explained.stderr).toBe(0);
    const { proof: _proof, ...chain } = JSON.parse(explained.stdout);
    outputs.push(`$ cordon explain ${containmentId} --json\n${JSON.stringify(chain)}`);
    const verify = await runCli(['audit', 'verify'], env);
    expect(verify.code, verify.stderr).toBe(0);
    outputs.push(`$ cordon audit verify\n${/^OK: \d+ entries of log (\S+)/.exec(verify.stdout)?.[1]}`);
    return outputs;
  }

  it(
    'prints the same for every read command, through a running ' +
      'server and in process; users import works while the server runs',
    async () => {
      const server = await startServer(remote);
      let served: string[];
      try {
        // The local operator's scheme means nothing to a served instance.
        const operator = { authorization: `Operator ${Buffer.alloc(32, 1).toString('base64url')}` };
        for (const route of ['/v1/accounts', `/v1/accounts/${accountId}/profiles`, '/v1/signing-keys']) {
          const refused = await fetch(`${server.url}${route}`, { headers: operator });
          expect([route, refused.status]).toEqual([route, 401]);
        }

        const login = await runCli(
          [
            'login',
            '--server',
            server.url,
            '--email',
            owner.email,
            '--password-stdin',
            '--totp',
            code(owner.totp_secret),
          ],
          remote,
          `${owner.password}\n`,
        );
        expect(login.code, login.stderr).toBe(0);
        const passwd = await runCli(
          ['passwd', '--password-stdin'],
          remote,
          `${owner.password}\nthe boss chose this one\n`,
        );
        expect(passwd.code, passwd.stderr).toBe(0);

        // The import goes through the server that holds the data: all or nothing, with progress.
        const file = path.join(home, 'people.csv');
        writeFileSync(
          file,
          'email,display_name,role,groups\nann@acme.example,Ann,member,SOC\nbob@acme.example,Bob,admin,SOC;Eng\n',
        );
        // Progress on standard error, the result alone on standard output.
        const imported = await runCli(['users', 'import', file], remote);
        expect([imported.code, imported.stderr]).toEqual([0, 'importing: 2/2 (100%)\n']);
        expect(imported.stdout).toMatch(new RegExp(`^imported 2 users into ${accountId} in \\d+\\.\\d s\\n$`));
        const bad = path.join(home, 'bad.jsonl');
        writeFileSync(
          bad,
          '{"email":"cy@acme.example","display_name":"Cy"}\n{"email":"ann@acme.example","display_name":"Ann again"}\n' +
            'not json\n',
        );
        const rejected = await runCli(['users', 'import', bad], remote);
        expect([rejected.code, rejected.stderr]).toEqual([
          2,
          'cordon: 2 problem(s) in 2 row(s); nothing was imported\n' +
            '  line 2: email: a user with this email already exists\n  line 3: not valid JSON\n',
        ]);

        served = await readAll(remote);
      } finally {
        await stopServer(server.child);
      }
      // The same public URL (CORDON_ISSUER) as the server, which took its own from the port it listened on: the
      // sources' URLs are built on it.
      const inProcess = await readAll({ ...local, CORDON_ISSUER: local.CORDON_ISSUER ?? server.url });
      expect(inProcess).toEqual(served);
      // The outputs carry what a person needs: role and EAM columns, and the users imported.
      expect(served.join('\n')).toContain('eve@acme.example');
      const eve = served[0]!.split('\n').find((line) => line.includes('eve@acme.example'))!;
      expect(eve).toMatch(/ADMIN.*yes/);
      expect(served[0]).toContain('bob@acme.example');

      // No table shows a bare id where a person is meant: people are `name <email>` (ids stay in --json).
      const users = JSON.parse((await runCli(['users', 'list', '--json'], local)).stdout) as {
        items: Array<{ id: string }>;
      };
      const userIds = users.items.map((u) => u.id);
      expect(userIds).toHaveLength(5);
      const shown = new Map<string, string>();
      for (const args of [
        ['approvals', 'list'],
        ['containments', 'list'],
        ['containments', 'show', containmentId],
        ['automation', 'status'],
        ['playbooks', 'list'],
        ['policy', 'show'],
        ['explain', containmentId],
        ['audit', 'tail', '-n', '1000'],
        ['audit', 'proof', '0'],
      ]) {
        const out = await runCli(args, local);
        expect(out.code, `${args.join(' ')}: ${out.stderr}`).toBe(0);
        for (const id of out.stdout.match(/\b[A-Z0-9]{26}\b/g) ?? [])
          expect(userIds, `cordon ${args.join(' ')} shows a person by id: ${id}\n${out.stdout}`).not.toContain(id);
        shown.set(args.slice(0, 2).join(' '), out.stdout);
      }
      // Eve is protected by the policy (ADMIN): nothing waits, and the table says so.
      expect(shown.get('approvals list')).toBe('no plan waits for approval\n');
      expect(shown.get('containments list')).toMatch(/Ada <ada@acme\.example>.*responder:cordon/);
      expect(shown.get('containments show')).toContain('user           Ada <ada@acme.example>\n');
      expect(shown.get('explain ' + containmentId)).toContain('subject    Ada <ada@acme.example>\n');
      expect(shown.get('audit tail')).toMatch(/\tBoss <boss@acme\.example>\tuser\.create\tAnn <ann@acme\.example>\t/);
    },
  );
});
