import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { receiveSignal } from '../../src/response/engine.js';
import { applyPlaybooks } from '../../src/response/playbooks.js';
import { createCliAccount, describeBackends, openTestCore, type TestDatabase } from '../support/backends.js';
import { runCli } from '../support/cli.js';
import { testCtx } from '../support/fixtures.js';

vi.setConfig({ testTimeout: 180_000 });

describeBackends('cordon explain, approvals, containments', (backend) => {
  let database: TestDatabase;
  let env: Record<string, string>;
  let accountId: string;
  let plan: { id: string };
  let containmentId: string;

  beforeAll(async () => {
    ({ database, env, accountId } = await createCliAccount(backend, 'ada@acme.example'));
    // An engine-driven suspension, made in process: a signal from an app's token, an auto playbook.
    const core = await openTestCore(database);
    await applyPlaybooks(core.response, testCtx, accountId, [
      { name: 'contain', match: { types: ['idp.*'] }, action: 'suspend', mode: 'auto' },
    ]);
    const submitter = {
      actor: { type: 'app' as const, id: 'siem-client' },
      authz: { method: 'bearer', client_id: 'siem-client', jti: 'jti-123', permissions: ['signals:write'] },
    };
    const signal = {
      external_id: 'a-1',
      type: 'idp.mfa-fatigue',
      title: 'MFA fatigue',
      severity: 'high' as const,
      confidence: 0.9,
      subject: { email: 'ada@acme.example' },
      observed_time: new Date().toISOString(),
      tags: [],
    };
    const received = await receiveSignal(core.response, {
      accountId,
      sourceId: 'app:siem-client',
      signal,
      rawText: '{}',
      ctx: submitter,
    });
    plan = received.plan!;
    containmentId = (received.plan!.verdicts as Array<{ step: string; details?: { containment_id?: string } }>).find(
      (v) => v.step === 'execute',
    )!.details!.containment_id!;
    await core.close();
  });
  afterAll(() => database.drop());

  it(
    'explain shows every link of an engine-driven suspension and verifies ' +
      'its proof; from the plan, the containment or the audit index alike',
    async () => {
      const res = await runCli(['explain', plan.id, '--json'], env);
      expect(res.code, res.stderr).toBe(0);
      const chain = JSON.parse(res.stdout);
      expect(chain).toMatchObject({
        kind: 'plan',
        verified: true,
        signal: { type: 'idp.mfa-fatigue', external_id: 'a-1', source_id: 'app:siem-client' },
        submitted_by: {
          actor: { type: 'app', id: 'siem-client' },
          authz: { jti: 'jti-123', permissions: ['signals:write'] },
        },
        playbook: { name: 'contain', version: 1, content_hash: expect.stringMatching(/^[0-9a-f]{64}$/) },
        plan: { id: plan.id, status: 'executed' },
        approvals: [],
        action: {
          action: 'user.suspend',
          actor_type: 'responder',
          actor_id: 'cordon',
          cause: { plan_id: plan.id, submitted_by: { id: 'siem-client' } },
        },
        outcome: {
          plan_status: 'executed',
          user_state: 'SUSPENDED',
          containment: { id: containmentId, status: 'open', locked: true },
        },
      });
      expect(chain.plan.verdicts.map((v: { step: string }) => v.step)).toEqual([
        'resolve-subject',
        'match-playbook',
        'kill-switch',
        'protected-principals',
        'dedup-window',
        'blast-radius',
        'approval',
        'execute',
        'verify',
      ]);
      expect(chain.proof.entry).toEqual(chain.action);
      const index = chain.action.idx as number;
      for (const id of [containmentId, String(index)]) {
        const other = await runCli(['explain', id, '--json'], env);
        expect(other.code, other.stderr).toBe(0);
        expect(JSON.parse(other.stdout)).toMatchObject({
          verified: true,
          plan: { id: plan.id },
          action: { idx: index },
        });
      }
      const text = await runCli(['explain', plan.id], env);
      expect(text.stdout).toContain('token jti jti-123, permissions signals:write');
      expect(text.stdout).toMatch(
        new RegExp(`audit {6}#${index} user\\.suspend changed — proven: included in the signed tree of size \\d+`),
      );

      // A tampered entry no longer proves: exit 1, and it says so.
      const core = await openTestCore(database);
      await sql`UPDATE audit_entries SET details = details || '{"sessions_revoked": ["forged"]}'
          WHERE account_id = ${accountId} AND idx = ${index}`.execute(core.database.db);
      await core.close();
      const tampered = await runCli(['explain', plan.id], env);
      expect(tampered.code).toBe(1);
      expect(tampered.stderr).toContain(`audit entry ${index} is NOT proven by a signed checkpoint`);
      expect((await runCli(['explain', 'not-an-id'], env)).code).toBe(2);
    },
  );

  it('approving and restoring are a person’s acts: never directly on the database; listing works', async () => {
    const approve = await runCli(['approvals', 'approve', plan.id, '--reason', 'x'], env);
    expect(approve.code).toBe(2);
    expect(approve.stderr).toContain(
      "approvals approve is a person's decision: start the server, sign in with `cordon login`",
    );
    expect((await runCli(['containments', 'restore', containmentId], env)).code).toBe(2);
    const list = JSON.parse((await runCli(['containments', 'list', '--open', '--json'], env)).stdout);
    expect(list).toEqual({
      items: [expect.objectContaining({ id: containmentId, plan_id: plan.id, locked: true, status: 'open' })],
    });
    const shown = await runCli(['containments', 'show', containmentId, '--json'], env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      id: containmentId,
      snapshot: { state: 'ACTIVE', role: 'MEMBER', group_ids: [] },
      cause: { plan_id: plan.id },
      close_reason: null,
    });
    expect(JSON.parse(shown.stdout)).not.toHaveProperty('people');
    // For a person: the user by name, who opened it, the snapshot in words.
    const text = await runCli(['containments', 'show', containmentId], env);
    expect([text.code, text.stderr]).toEqual([0, '']);
    expect(text.stdout).toMatch(
      new RegExp(
        `^containment    ${containmentId} open, locked\\n` +
          'user           Ada <ada@acme\\.example>\\n' +
          'opened         \\S+ by responder:cordon\\n' +
          `plan           ${plan.id}\\n` +
          'before         ACTIVE, role MEMBER, groups none; 0 session\\(s\\) revoked\\n$',
      ),
    );
    expect((await runCli(['containments', 'show', 'AAAAAAAAAAAAAAAAAAAAAAAAAA'], env)).code).toBe(3);
    expect((await runCli(['approvals', 'list'], env)).stdout).toBe('no plan waits for approval\n');
    expect(JSON.parse((await runCli(['approvals', 'list', '--json'], env)).stdout)).toEqual({ items: [] });
  });
});
