import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../support/cli.js';
import { BACKENDS } from '../support/env.js';
import { mintSessionToken } from '../support/fixtures.js';
import { peopleEmails, startPeer, withCore, type Peer } from '../support/targets-harness.js';
import { call, startSut, type Sut } from '../support/targets-harness-sut.js';
import { loadScimFactory, startScimTarget, type ScimTarget } from '../support/targets-scim.js';
import { TARGET_TEST_ENV, sutAudit, waitForRecord } from '../support/targets-judge.js';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

// Issue 16, Acceptance: one signal contains the subject in Cordon, on a 1Password-compatible peer (a
// second `cordon serve`), on a SCIMMY server, and ends the subject's sessions on the peer through a
// `gtr` target (the peer's POST /oauth/global-token-revocation). PostgreSQL only: the peer and the
// Cordon under test are processes, judged by their own databases.
describe.skipIf(!BACKENDS.includes('postgres'))('targets: one signal, every kind [postgres]', () => {
  const alice = 'alice@corp.example';
  const emails = [alice, ...peopleEmails(4, 'p')];
  let peer: Peer;
  let scim: ScimTarget;
  let sut: Sut;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    peer = await startPeer({
      emails,
      ownerEmail: 'root@corp.example',
      apps: [{ name: 'gtr-caller', permissions: ['sessions:revoke_all'] }],
      env: { CORDON_ACCESS_TOKEN_TTL: '86400' },
    });
    scim = await startScimTarget(await loadScimFactory(), emails);
    sut = await startSut({
      // The peer's owner is an ordinary member here: Cordon suspends them locally, the peer refuses.
      emails: [...emails, peer.ownerEmail],
      playbooks: [{ name: 'contain', match: { types: ['idp.*'] }, action: 'suspend', mode: 'auto', targets: 'all' }],
      env: TARGET_TEST_ENV,
    });
    await sut.startNode();
    const specs = [
      { name: 'peer', kind: 'onepassword', ...peer.targetSpec() },
      { name: 'app', kind: 'scim', ...scim.targetSpec() },
      {
        name: 'peer-sessions',
        kind: 'gtr',
        config: { endpoint: `${peer.url}/oauth/global-token-revocation`, auth: 'bearer', subject_format: 'email' },
        credentials: { token: await peer.appToken('gtr-caller') },
      },
    ];
    for (const spec of specs) ids[spec.name] = (await sut.addTarget({ ...spec, step_deadline_seconds: 120 })).id;
    for (const name of ['peer', 'app'])
      expect((await sut.api('POST', `/targets/${ids[name]!}:sync`, {})).status).toBe(200);
    await sut.applyPlaybooks([
      { name: 'peer-only', match: { types: ['pw.*'] }, action: 'suspend', mode: 'auto', targets: ['peer'] },
    ]);
  });
  afterAll(async () => {
    await sut?.close();
    await scim?.close();
    await peer?.close();
  });

  const settled = (id: string, states: string[]) => waitForRecord(sut, id, states);

  it('contains the subject on every kind; each step verified; explain shows each attempt', async () => {
    // Alice is signed in on the peer: the gtr step must end that session.
    const aliceOnPeer = peer.userIds.get(alice)!;
    const peerSession = await withCore(peer.database, (core) =>
      mintSessionToken(core, { account_id: peer.accountId, id: aliceOnPeer }),
    );
    expect((await call(peer.url, 'GET', '/v1/auth/sessions/current', peerSession)).status).toBe(200);

    const signal = await sut.signal(alice, 'idp.impossible-travel');
    expect([signal.status, signal.body.plan.status]).toEqual([200, 'executed']);
    const containmentId = signal.body.plan.containment_id as string;
    const done = await settled(containmentId, ['contained', 'partial']);
    expect(done).toMatchObject({ status: 'open', locked: true, targets_state: 'contained' });
    expect(done.steps.map((s) => [s.target_name, s.kind, s.operation, s.status, s.observed_state]).sort()).toEqual([
      ['app', 'scim', 'suspend', 'verified', 'SUSPENDED'],
      ['peer', 'onepassword', 'suspend', 'verified', 'SUSPENDED'],
      ['peer-sessions', 'gtr', 'suspend', 'verified', null],
    ]);
    expect(done.steps.find((s) => s.kind === 'onepassword')!.external_id).toBe(aliceOnPeer);

    // The targets' own state: the peer suspended her once and ended her session; the SCIM app deactivated her.
    expect((await peer.states()).get(alice)).toBe('SUSPENDED');
    expect(await peer.changes('user.suspend')).toEqual(new Map([[aliceOnPeer, 1]]));
    // One GTR call reached the peer for her. Whether it or the suspension (which also ends sessions) came
    // first decides whether it still found a session to end: either is right.
    const logouts = (await peer.audit('user.sessions.revoke_all')).filter((e) => e.target_id === aliceOnPeer);
    expect(logouts).toHaveLength(1);
    expect(['changed', 'unchanged']).toContain(logouts[0]!.outcome);
    expect((await call(peer.url, 'GET', '/v1/auth/sessions/current', peerSession)).status).toBe(401);
    expect((await scim.states()).get(alice)).toBe(false);
    expect((await scim.states()).get('p0@corp.example')).toBe(true);

    // Cordon's log: containment.contained, one target.step per step, its attempts.
    const trail = await sutAudit(sut);
    expect(trail.filter((e) => e.action === 'containment.contained').map((e) => e.target_id)).toEqual([containmentId]);
    const attempts = trail.filter((e) => e.action === 'target.attempt');
    expect(attempts.map((e) => (e.details as { target_name: string }).target_name).sort()).toEqual([
      'app',
      'peer',
      'peer-sessions',
    ]);

    // cordon explain: each target with its attempts, each attempt with its audit index.
    const explained = await runCli(['explain', containmentId, '--json'], sut.cliEnv);
    expect(explained.code, explained.stderr).toBe(0);
    const chain = JSON.parse(explained.stdout) as {
      verified: boolean;
      targets: Array<{
        name: string;
        kind: string;
        steps: Array<{
          operation: string;
          status: string;
          attempts: Array<{ index: number; attempt: number; outcome: string }>;
        }>;
      }>;
    };
    expect(chain.verified).toBe(true);
    const indexes = new Map(attempts.map((e) => [(e.details as { target_name: string }).target_name, e.idx]));
    expect(
      chain.targets
        .map((t) => [
          t.name,
          t.kind,
          t.steps.map((s) => [s.operation, s.status, s.attempts.map((a) => [a.attempt, a.outcome, a.index])]),
        ])
        .sort(),
    ).toEqual(
      [
        ['app', 'scim'],
        ['peer', 'onepassword'],
        ['peer-sessions', 'gtr'],
      ].map(([name, kind]) => [name, kind, [['suspend', 'verified', [[1, 'verified', indexes.get(name!)]]]]]),
    );
    const text = await runCli(['explain', containmentId], sut.cliEnv);
    expect(text.code, text.stderr).toBe(0);
    for (const [name, index] of indexes) {
      expect(text.stdout).toContain(name);
      expect(text.stdout).toContain(`#${index}`);
    }
  });

  it('a playbook naming its targets acts on those alone', async () => {
    const who = 'p1@corp.example';
    const signal = await sut.signal(who, 'pw.leak');
    const done = await settled(signal.body.plan.containment_id as string, ['contained', 'partial']);
    expect(done.steps.map((s) => [s.target_name, s.status])).toEqual([['peer', 'verified']]);
    expect((await scim.states()).get(who)).toBe(true);
    expect((await peer.states()).get(who)).toBe('SUSPENDED');
  });

  it('403 no_owner_remain: the step is protected, not retried; record partial, and the plan says so', async () => {
    const ownerOnPeer = peer.userIds.get(peer.ownerEmail)!;
    const signal = await sut.signal(peer.ownerEmail, 'pw.owner');
    expect(signal.body.plan.status).toBe('executed');
    const containmentId = signal.body.plan.containment_id as string;
    const done = await settled(containmentId, ['partial', 'contained']);
    expect(done.targets_state).toBe('partial');
    const step = done.steps[0]!;
    expect(step).toMatchObject({ target_name: 'peer', status: 'protected', attempts: 1, external_id: ownerOnPeer });
    expect(step.last_error).toMatchObject({ status: 403 });
    expect(JSON.stringify(step.last_error)).toContain('no_owner_remain');
    // The peer refused once, and Cordon did not ask again.
    expect((await peer.audit('user.suspend')).filter((e) => e.target_id === ownerOnPeer).map((e) => e.outcome)).toEqual(
      ['refused'],
    );
    expect((await peer.states()).get(peer.ownerEmail)).toBe('ACTIVE');
    const partial = (await sutAudit(sut, 'containment.partial')).filter((e) => e.target_id === containmentId);
    expect(partial.map((e) => e.details)).toEqual([
      {
        operation: 'suspend',
        targets_state: 'partial',
        failed: [{ target: 'peer', target_id: ids.peer, step_id: step.id, status: 'protected' }],
        pending: 0,
      },
    ]);
    const plan = await sut.api('GET', `/plans/${signal.body.plan.id as string}`);
    expect(
      (plan.body.verdicts as Array<{ step: string; outcome: string; reason: string }>).find(
        (v) => v.step === 'targets',
      ),
    ).toMatchObject({ outcome: 'stop', reason: 'partial: protected on peer' });
  });

  it('no view or entry holds a credential; removing the 1Password target revokes its token at the peer', async () => {
    const listed = await sut.api('GET', '/targets');
    expect(listed.status).toBe(200);
    const text = JSON.stringify(listed.body);
    for (const secret of [peer.clientSecret, scim.server.token]) expect(text).not.toContain(secret);
    expect(JSON.stringify((await sut.api('GET', `/targets/${ids.peer!}`)).body)).not.toContain(peer.clientSecret);
    const trail = JSON.stringify(await sutAudit(sut));
    for (const secret of [peer.clientSecret, scim.server.token]) expect(trail).not.toContain(secret);

    const revokedBefore = (await peer.audit('token.revoke')).length;
    const removed = await sut.api('DELETE', `/targets/${ids.peer!}`);
    expect(removed.status, JSON.stringify(removed.body)).toBe(204);
    const revokes = (await peer.audit('token.revoke')).slice(revokedBefore);
    expect(revokes.map((e) => [(e.authz as { client_id: string }).client_id, e.outcome])).toEqual([
      [peer.clientId, 'changed'],
    ]);
    expect((await sutAudit(sut, 'target.remove')).map((e) => e.target_id)).toEqual([ids.peer]);
  });
});
