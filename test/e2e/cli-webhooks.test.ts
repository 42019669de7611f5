import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { createCliAccount, describeBackends, openTestCore, type TestDatabase } from '../support/backends.js';
import { runCli, type CliResult } from '../support/cli.js';
import { startReceiver, type Receiver } from '../support/webhook-receiver.js';

vi.setConfig({ testTimeout: 180_000 });

/**
 * `cordon webhooks …` as the local operator: the secret printed by `add` and never again, the list,
 * the delivery log of an event the CLI itself caused, removal; and usage errors.
 */
describeBackends('cordon webhooks', (backend) => {
  let database: TestDatabase;
  let env: Record<string, string>;
  let receiver: Receiver;
  const outputs: string[] = [];

  beforeAll(async () => {
    ({ database, env } = await createCliAccount(backend, 'ada@acme.example'));
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await database?.drop();
  });

  const cordon = async (args: string[]): Promise<CliResult> => {
    const result = await runCli(args, env);
    outputs.push(result.stdout, result.stderr);
    return result;
  };

  it('adds, lists, shows, logs deliveries and removes, printing the secret only once', async () => {
    const added = await cordon(['webhooks', 'add', receiver.url, '--events', 'automation.paused, plan.expired']);
    expect(added.code, added.stderr).toBe(0);
    const secret = /^(whsec_\S+)$/m.exec(added.stdout)![1]!;
    expect(added.stdout).toContain('Signing secret (shown only now;');
    const id = /\b([A-Z2-7]{26})\b/.exec(added.stdout)![1]!; // the table comes before the secret

    const listed = await cordon(['webhooks', 'list', '--json']);
    expect(JSON.parse(listed.stdout)).toEqual({
      items: [
        expect.objectContaining({
          id,
          url: `${new URL(receiver.url).origin}/…`,
          events: ['automation.paused', 'plan.expired'],
          format: 'standard',
          enabled: true,
        }),
      ],
    });
    const shown = await cordon(['webhooks', 'show', id]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`${new URL(receiver.url).origin}/…`);
    expect(shown.stdout).not.toContain(new URL(receiver.url).pathname);

    // The CLI's own change fans out in its core's sequencing; the delivery waits in the outbox until a worker
    // (a served instance's; here a core the test opens) sends it.
    expect((await cordon(['automation', 'pause', '--reason', 'drill'])).code).toBe(0);
    const server = await openTestCore(database);
    await server.webhookWorker.pass();
    await server.close();
    const run = await cordon(['webhooks', 'deliveries', id, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const log = JSON.parse(run.stdout) as { items: Array<{ event: string; state: string; message_id: string }> };
    expect(receiver.received).toHaveLength(1);
    expect(log.items).toEqual([expect.objectContaining({ event: 'automation.paused', state: 'delivered' })]);
    const got = receiver.received[0]!;
    expect(got.headers['webhook-id']).toBe(log.items[0]!.message_id);
    expect(new Webhook(secret).verify(got.body, got.headers as Record<string, string>)).toMatchObject({
      type: 'automation.paused',
      data: { reason: 'drill' },
    });
    const table = await cordon(['webhooks', 'deliveries', id]);
    expect(table.stdout).toContain('automation.paused');
    expect(table.stdout).toContain('#1');

    const removed = await cordon(['webhooks', 'remove', id]);
    expect([removed.code, removed.stdout]).toEqual([0, `removed webhook ${id}\n`]);
    expect(JSON.parse((await cordon(['webhooks', 'list', '--json'])).stdout)).toEqual({ items: [] });
    // An empty list says so.
    expect((await cordon(['webhooks', 'list'])).stdout).toBe('no webhooks\n');
    expect((await cordon(['webhooks', 'show', id])).code).toBe(3);
    // The secret appeared once: in add's output.
    expect(outputs.filter((o) => o.includes(secret.slice(6)))).toHaveLength(1);
  });

  it('refuses bad input with a usage error', async () => {
    const bad = await cordon(['webhooks', 'add', 'ftp://example.com', '--events', 'plan.executed']);
    expect([bad.code, bad.stderr]).toEqual([
      2,
      expect.stringContaining('url: expected an https:// URL (http:// only on a loopback address)'),
    ]);
    const unknown = await cordon(['webhooks', 'add', 'https://example.com', '--events', 'plan.nope']);
    expect(unknown.code).toBe(2);
    const none = await cordon(['webhooks', 'add', 'https://example.com', '--events', ',']);
    expect([none.code, none.stderr]).toEqual([2, expect.stringContaining('--events: comma-separated events')]);
    const help = await cordon(['webhooks', '--help']);
    expect(help.stdout).toContain('plan.pending_approval');
  });
});
