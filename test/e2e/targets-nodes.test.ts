import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BACKENDS } from '../support/env.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { peopleEmails, startPeer, type Peer, type ProcessNode } from '../support/targets-harness.js';
import { startSut, type Sut } from '../support/targets-harness-sut.js';
import { loadScimFactory, startScimTarget, type ScimTarget } from '../support/targets-scim.js';
import { TARGET_TEST_ENV, attemptsByStep, submitUntilAccepted, waitForRecords } from '../support/targets-judge.js';

vi.setConfig({ testTimeout: 300_000, hookTimeout: 180_000 });

const USERS = 100;

// Issue 16 §7 "Multi-node": two `cordon serve` nodes on one PostgreSQL (each its own metrics port) share
// the steps that one of them wrote; none runs twice. Every signal goes to node A; node B only sees the
// steps by polling the table, so what it does proves the sharing. The targets answer slowly (a delay on
// every acting call) and each node may run 2 calls per target at once, so that A alone cannot keep up.
describe.skipIf(!BACKENDS.includes('postgres'))('targets across two nodes [postgres]', () => {
  const emails = peopleEmails(USERS, 'n');
  let peer: Peer;
  let peerProxy: FaultProxy;
  let scim: ScimTarget;
  let sut: Sut;
  let nodes: ProcessNode[];

  beforeAll(async () => {
    peer = await startPeer({ emails });
    peerProxy = await startFaultProxy(peer.url, { seed: 21 });
    scim = await startScimTarget(await loadScimFactory(), emails, 22);
    sut = await startSut({
      emails,
      playbooks: [{ name: 'contain', match: { types: ['idp.*'] }, action: 'suspend', mode: 'auto' }],
      env: TARGET_TEST_ENV,
    });
    nodes = [await sut.startNode(), await sut.startNode()];
    const common = { step_deadline_seconds: 600, sync_interval_seconds: 86_400, max_concurrency: 2 };
    for (const [name, kind, spec] of [
      ['peer', 'onepassword', peer.targetSpec(peerProxy.url)],
      ['app', 'scim', scim.targetSpec()],
    ] as const) {
      const target = await sut.addTarget({ name, kind, ...spec, ...common });
      expect((await sut.api('POST', `/targets/${target.id}:sync`, {})).status).toBe(200);
    }
  });
  afterAll(async () => {
    await sut?.close();
    await scim?.close();
    await peerProxy?.close();
    await peer?.close();
  });

  it('both nodes carry out the steps one of them wrote; each step runs exactly once', async () => {
    peerProxy.setRules([{ kind: 'delay', method: 'POST', path: /:suspend$/, delayMs: 300 }]);
    scim.proxy.setRules([{ kind: 'delay', method: 'PATCH', delayMs: 300 }]);
    const [a] = nodes;
    for (let i = 0; i < USERS; i += 20)
      await Promise.all(emails.slice(i, i + 20).map((e) => submitUntilAccepted(sut, e, 'idp.x', `m-${e}`, a)));

    const records = await waitForRecords(sut, USERS, 180_000);
    const steps = records.flatMap((c) => c.steps);
    expect(steps).toHaveLength(2 * USERS);
    // No fault, no kill: one attempt per step, verified, one final entry.
    expect(steps.filter((s) => s.status !== 'verified' || s.attempts !== 1)).toEqual([]);
    const logged = await attemptsByStep(sut);
    for (const step of steps) {
      expect(logged.get(step.id)!.attempts.map((x) => [x.attempt, x.outcome])).toEqual([[1, 'verified']]);
      expect(logged.get(step.id)!.finals).toHaveLength(1);
    }

    // The peer's own log: one suspension per subject, each one changed the user; none twice.
    const suspends = await peer.audit('user.suspend');
    expect(suspends).toHaveLength(USERS);
    expect(new Set(suspends.map((e) => e.target_id))).toEqual(new Set(emails.map((e) => peer.userIds.get(e))));
    expect(suspends.every((e) => e.outcome === 'changed')).toBe(true);
    // Both nodes acted on the peer: each holds its own access token (the jti its calls carried).
    const tokens = new Set(suspends.map((e) => (e.authz as { jti?: string }).jti));
    expect(tokens.size).toBeGreaterThanOrEqual(2);

    // The SCIM server: exactly one PATCH per subject reached it; every subject is inactive.
    const patches = scim.proxy.calls.filter((c) => c.forwarded && (c.method === 'PATCH' || c.method === 'PUT'));
    expect(patches).toHaveLength(USERS);
    expect(new Set(patches.map((c) => c.path)).size).toBe(USERS);
    const states = await scim.states();
    expect(emails.filter((e) => states.get(e) !== false)).toEqual([]);
  });
});
