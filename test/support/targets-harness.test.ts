import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BACKENDS } from './env.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { peopleEmails, startPeer, type Peer } from './targets-harness.js';
import { runCli } from './cli.js';
import { call, startSut, type Sut } from './targets-harness-sut.js';
import { containments, sutAudit, verifyLog } from './targets-judge.js';

vi.setConfig({ testTimeout: 120_000 });

// The harness itself, on what exists before any target code: a peer `cordon serve` speaking the
// 1Password Users API through a fault proxy, its database as the judge; the Cordon under test's nodes.
describe.skipIf(!BACKENDS.includes('postgres'))('targets harness [postgres]', () => {
  const emails = peopleEmails(3);
  let peer: Peer;
  let proxy: FaultProxy;

  beforeAll(async () => {
    peer = await startPeer({ emails });
    proxy = await startFaultProxy(peer.url, { seed: 3 });
  });
  afterAll(async () => {
    await proxy?.close();
    await peer?.close();
  });

  it('the peer serves the Users API through the proxy; its own log and table judge what happened', async () => {
    const token = await peer.appToken();
    const users = `/v1/accounts/${peer.accountId}/users`;
    proxy.setRules([{ kind: 'throttle', method: 'POST', path: /:suspend$/, every: 2, retryAfterSeconds: 1 }]);
    const list = await call(proxy.url, 'GET', `${users}?max_page_size=1000`, token);
    expect(list.status).toBe(200);
    expect(
      (list.body as { results: Array<{ email: string; state: string }> }).results.map((u) => [u.email, u.state]).sort(),
    ).toEqual([...emails, peer.ownerEmail].map((e) => [e, 'ACTIVE']).sort());

    const id = peer.userIds.get(emails[0]!)!;
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push((await call(proxy.url, 'POST', `${users}/${id}:suspend`, token)).status);
    expect(answers).toEqual([200, 429, 200]);
    expect((await peer.states()).get(emails[0]!)).toBe('SUSPENDED');
    expect((await peer.states()).get(emails[1]!)).toBe('ACTIVE');
    // Two reached the peer: one changed the user, the other found it suspended already.
    const suspends = await peer.audit('user.suspend');
    expect(suspends.map((e) => [e.target_id, e.outcome, e.actor_id])).toEqual([
      [id, 'changed', peer.clientId],
      [id, 'unchanged', peer.clientId],
    ]);
    expect(await peer.changes('user.suspend')).toEqual(new Map([[id, 1]]));
    expect(proxy.counts((p) => p.replace(/users\/[^/:]+/, 'users/{id}'))).toMatchObject({
      [`POST ${users}/{id}:suspend`]: { seen: 3, forwarded: 2, faulted: 1 },
    });

    // The peer's last owner cannot be suspended: the 403 a onepassword target maps to protected.
    proxy.clearRules();
    const owner = await call(proxy.url, 'POST', `${users}/${peer.userIds.get(peer.ownerEmail)!}:suspend`, token);
    expect(owner.status).toBe(403);
    expect(JSON.stringify(owner.body)).toContain('no_owner_remain');
  });

  it('the peer comes back after a restart with the same data', async () => {
    await peer.restart();
    const token = await peer.appToken();
    const one = await call(
      peer.url,
      'GET',
      `/v1/accounts/${peer.accountId}/users/${peer.userIds.get(emails[0]!)!}`,
      token,
    );
    expect([one.status, (one.body as { state: string }).state]).toEqual([200, 'SUSPENDED']);
  });

  describe('the Cordon under test', () => {
    let sut: Sut;
    beforeAll(async () => {
      sut = await startSut({
        emails,
        playbooks: [{ name: 'contain', match: { types: ['idp.*'] }, action: 'suspend', mode: 'auto' }],
      });
    });
    afterAll(() => sut?.close());

    it('runs two nodes on one database, survives a SIGKILL of one, and restarts', async () => {
      const [a, b] = [await sut.startNode(), await sut.startNode()];
      expect(a.url).not.toBe(b.url);
      const first = await sut.signal(emails[0]!, 'idp.x');
      expect([first.status, first.body.plan.status]).toEqual([200, 'executed']);
      await sut.kill(a);
      expect(a.child.signalCode).toBe('SIGKILL');
      // The survivor serves; the killed node's record is there.
      const records = await sut.api('GET', '/containments?status=open', undefined, b);
      expect(records.body.containments.map((c: { user_id: string }) => c.user_id)).toEqual([
        sut.userIds.get(emails[0]!),
      ]);
      const again = await sut.startNode();
      const second = await sut.signal(emails[1]!, 'idp.y');
      expect([second.status, second.body.plan.status]).toEqual([200, 'executed']);
      expect((await sut.api('GET', '/containments?status=open', undefined, again)).body.containments).toHaveLength(2);
    });

    it('the judge reads the records and verifies the log with the CLI while a node runs', async () => {
      const records = await containments(sut);
      expect(records.map((c) => [c.status, c.locked])).toEqual([
        ['open', true],
        ['open', true],
      ]);
      const suspends = await sutAudit(sut, 'user.suspend');
      expect(suspends.map((e) => e.target_id).sort()).toEqual(
        emails
          .slice(0, 2)
          .map((e) => sut.userIds.get(e))
          .sort(),
      );
      const verified = await verifyLog(sut);
      expect(verified.code, verified.stderr).toBe(0);
      expect(verified.report.ok).toBe(true);
      const explained = await runCli(['explain', records[0]!.id, '--json'], sut.cliEnv);
      expect(explained.code, explained.stderr).toBe(0);
      expect(JSON.parse(explained.stdout)).toMatchObject({ verified: true, outcome: { user_state: 'SUSPENDED' } });
    });
  });
});
