import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BACKENDS } from '../support/env.js';
import { peopleEmails, startPeer, type Peer } from '../support/targets-harness.js';
import { call, startSut, type Sut } from '../support/targets-harness-sut.js';
import { loadScimFactory, startScimTarget, type ScimTarget } from '../support/targets-scim.js';
import { TARGET_TEST_ENV, sutAudit, waitForRecord } from '../support/targets-judge.js';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

// Issue 16, Acceptance: the approval, lock, restore, false-positive, dry-run and breaker behaviours hold
// with remote targets in the set (a 1Password-compatible peer, a SCIMMY server, a gtr target at the
// peer). PostgreSQL only (processes; see targets.test.ts).
describe.skipIf(!BACKENDS.includes('postgres'))('targets: the guards and the way back [postgres]', () => {
  const emails = peopleEmails(8, 'g');
  const solo = 'solo@corp.example'; // known to Cordon only
  let peer: Peer;
  let scim: ScimTarget;
  let sut: Sut;
  let breakerSut: Sut;
  const specs: Array<Record<string, unknown>> = [];

  const playbooks = [
    { name: 'auto', match: { types: ['idp.*'] }, action: 'suspend', mode: 'auto' },
    { name: 'ask', match: { types: ['ask.*'] }, action: 'suspend', mode: 'approval' },
  ];
  const addTargets = async (into: Sut) => {
    for (const spec of specs) {
      const { id } = await into.addTarget(spec);
      if (spec.kind !== 'gtr') expect((await into.api('POST', `/targets/${id}:sync`, {})).status).toBe(200);
    }
  };

  beforeAll(async () => {
    peer = await startPeer({
      emails,
      apps: [{ name: 'gtr-caller', permissions: ['sessions:revoke_all'] }],
      env: { CORDON_ACCESS_TOKEN_TTL: '86400' },
    });
    scim = await startScimTarget(await loadScimFactory(), emails);
    specs.push(
      { name: 'peer', kind: 'onepassword', ...peer.targetSpec(), step_deadline_seconds: 120 },
      { name: 'app', kind: 'scim', ...scim.targetSpec(), step_deadline_seconds: 120 },
      {
        name: 'peer-sessions',
        kind: 'gtr',
        config: { endpoint: `${peer.url}/oauth/global-token-revocation`, auth: 'bearer' },
        credentials: { token: await peer.appToken('gtr-caller') },
      },
    );
    sut = await startSut({ emails: [...emails, solo], playbooks, env: TARGET_TEST_ENV });
    await sut.startNode();
    await addTargets(sut);
  });
  afterAll(async () => {
    await breakerSut?.close();
    await sut?.close();
    await scim?.close();
    await peer?.close();
  });

  const contained = async (email: string) => {
    const signal = await sut.signal(email, 'idp.x');
    expect(signal.body.plan.status).toBe('executed');
    return waitForRecord(sut, signal.body.plan.containment_id as string, ['contained', 'partial']);
  };
  const stepsOf = async (containmentId: string) =>
    sut.database.db().selectFrom('target_steps').selectAll().where('containment_id', '=', containmentId).execute();

  it('dry run: the plan shows per target what it would do, and writes nothing', async () => {
    const before = await peer.audit();
    const dry = await sut.api('POST', '/signals:plan', {
      signal: {
        external_id: 'dry-1',
        type: 'idp.x',
        title: 't',
        severity: 'high',
        confidence: 0.9,
        subject: { email: emails[0] },
      },
    });
    expect(dry.status, JSON.stringify(dry.body)).toBe(200);
    const text = JSON.stringify(dry.body);
    for (const name of ['peer', 'app', 'peer-sessions']) expect(text).toContain(name);
    // Someone no synced target holds: the verdict says so per target.
    const alone = await sut.api('POST', '/signals:plan', {
      signal: {
        external_id: 'dry-2',
        type: 'idp.x',
        title: 't',
        severity: 'high',
        confidence: 0.9,
        subject: { email: solo },
      },
    });
    expect(JSON.stringify(alone.body)).toContain('not on peer');
    expect(JSON.stringify(alone.body)).toContain('not on app');
    expect(await sut.database.db().selectFrom('target_steps').select('id').execute()).toEqual([]);
    expect(await peer.audit()).toHaveLength(before.length);
  });

  it('approval: nothing reaches a target until the approval executes the plan; then every step verifies', async () => {
    const who = emails[0]!;
    const signal = await sut.signal(who, 'ask.x');
    const plan = signal.body.plan as { id: string; status: string; action_digest: string };
    expect(plan.status).toBe('pending_approval');
    expect(await sut.database.db().selectFrom('target_steps').select('id').execute()).toEqual([]);
    expect((await peer.states()).get(who)).toBe('ACTIVE');
    const approved = await sut.api('POST', `/plans/${plan.id}:approve`, {
      reason: 'confirmed',
      action_digest: plan.action_digest,
    });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body.plan.status).toBe('executed');
    const record = await waitForRecord(sut, approved.body.plan.containment_id as string, ['contained', 'partial']);
    expect(record.targets_state).toBe('contained');
    expect(record.steps.map((s) => [s.target_name, s.status]).sort()).toEqual([
      ['app', 'verified'],
      ['peer', 'verified'],
      ['peer-sessions', 'verified'],
    ]);
    expect((await peer.states()).get(who)).toBe('SUSPENDED');
    expect((await scim.states()).get(who)).toBe(false);
  });

  it('lock: the record holds the local user; the remote identities stay suspended', async () => {
    const who = emails[1]!;
    const record = await contained(who);
    expect(record.locked).toBe(true);
    const refused = await sut.api('POST', `/users/${sut.userIds.get(who)!}:reactivate`);
    expect(refused.body.details[0].reason).toBe('CONTAINMENT_LOCKED');
    expect((await peer.states()).get(who)).toBe('SUSPENDED');
    expect((await scim.states()).get(who)).toBe(false);
    expect((await sut.api('GET', `/containments/${record.id}`)).body).toMatchObject({
      status: 'open',
      targets_state: 'contained',
    });
  });

  it('restore everywhere: each target reactivated and verified; gtr has nothing to undo', async () => {
    const who = emails[2]!;
    const record = await contained(who);
    const restored = await sut.api('POST', `/containments/${record.id}:restore`, {});
    expect(restored.status, JSON.stringify(restored.body)).toBe(200);
    const back = await waitForRecord(sut, record.id, ['restored', 'restore_partial']);
    expect(back.targets_state).toBe('restored');
    const reactivations = back.steps.filter((s) => s.operation === 'reactivate');
    expect(reactivations.map((s) => [s.target_name, s.status, s.observed_state, s.drift]).sort()).toEqual([
      ['app', 'verified', 'ACTIVE', null],
      ['peer', 'verified', 'ACTIVE', null],
    ]);
    // The answer said, per target, what the restore would do: gtr revokes only, nothing to undo there.
    expect(
      (restored.body.targets as Array<{ target: string; kind: string; would: string; reason?: string }>)
        .map((t) => [t.target, t.kind, t.would, t.reason ?? null])
        .sort(),
    ).toEqual([
      ['app', 'scim', 'reactivate', null],
      ['peer', 'onepassword', 'reactivate', null],
      ['peer-sessions', 'gtr', 'nothing', 'revocation only: nothing to undo'],
    ]);
    expect((await peer.changes('user.reactivate')).get(peer.userIds.get(who)!)).toBe(1);
    expect((await peer.states()).get(who)).toBe('ACTIVE');
    expect((await scim.states()).get(who)).toBe(true);
    expect((await sutAudit(sut, 'containment.restored')).map((e) => e.target_id)).toContain(record.id);
  });

  it('drift per target: reactivated in 1Password meanwhile, deleted from the SCIM app meanwhile', async () => {
    const who = emails[3]!;
    const record = await contained(who);
    const peerId = peer.userIds.get(who)!;
    const direct = await call(
      peer.url,
      'POST',
      `/v1/accounts/${peer.accountId}/users/${peerId}:reactivate`,
      await peer.appToken(),
    );
    expect(direct.status).toBe(200);
    const scimId = record.steps.find((s) => s.kind === 'scim')!.external_id!;
    const { config, credentials } = scim.targetSpec();
    const base = (config.base_url as string).replace(scim.proxy.url, new URL(scim.server.url).origin);
    expect((await call(base, 'DELETE', `/Users/${scimId}`, credentials.token)).status).toBe(204);

    expect((await sut.api('POST', `/containments/${record.id}:restore`, {})).status).toBe(200);
    const back = await waitForRecord(sut, record.id, ['restored', 'restore_partial']);
    const byTarget = Object.fromEntries(
      back.steps.filter((s) => s.operation === 'reactivate').map((s) => [s.target_name, s]),
    );
    expect(byTarget.peer).toMatchObject({ status: 'verified', observed_state: 'ACTIVE' });
    expect(byTarget.peer!.drift).toEqual({ reactivated_elsewhere: true });
    expect(byTarget.app).toMatchObject({ status: 'gone' });
    expect(byTarget.app!.drift).toEqual({ deleted: true });
    // Gone counts as ended, not failed: the record is restored.
    expect(back.targets_state).toBe('restored');
    // Cordon did not reactivate her a second time on the peer: the one change is the direct one.
    expect((await peer.changes('user.reactivate')).get(peerId)).toBe(1);
  });

  it('false positive: undone everywhere, the breaker slot freed', async () => {
    const who = emails[4]!;
    const record = await contained(who);
    const undone = await sut.api('POST', `/containments/${record.id}:restore`, { reason: 'false_positive' });
    expect(undone.status, JSON.stringify(undone.body)).toBe(200);
    const back = await waitForRecord(sut, record.id, ['restored', 'restore_partial']);
    expect(back.targets_state).toBe('restored');
    expect((await peer.states()).get(who)).toBe('ACTIVE');
    expect((await scim.states()).get(who)).toBe(true);
    const slots = await sut.database
      .db()
      .selectFrom('breaker_slots')
      .select('plan_id')
      .where('plan_id', '=', record.plan_id!)
      .execute();
    expect(slots).toEqual([]);
    expect(await stepsOf(record.id)).toHaveLength(5); // 3 suspends, 2 reactivates (gtr: nothing to undo)
  });

  it('the breaker counts one containment once, whatever its fan-out', async () => {
    breakerSut = await startSut({
      emails: emails.slice(5),
      playbooks,
      env: { ...TARGET_TEST_ENV, CORDON_BREAKER_MAX_ACTIONS: '2', CORDON_BREAKER_WINDOW_SECONDS: '3600' },
    });
    await breakerSut.startNode();
    await addTargets(breakerSut);
    const plans = [];
    for (const who of emails.slice(5)) plans.push((await breakerSut.signal(who, 'idp.x')).body.plan);
    // Two containments of three targets each fit under a breaker of 2; the third trips it.
    expect(plans.map((p: { status: string }) => p.status)).toEqual(['executed', 'executed', 'pending_approval']);
    expect(JSON.stringify(plans[2])).toContain('breaker');
    for (const p of plans.slice(0, 2))
      await waitForRecord(breakerSut, (p as { containment_id: string }).containment_id, ['contained']);
    expect((await peer.states()).get(emails[7]!)).toBe('ACTIVE');
    const held = await breakerSut.database
      .db()
      .selectFrom('target_steps')
      .select('containment_id')
      .distinct()
      .execute();
    expect(held).toHaveLength(2);
  });
});
