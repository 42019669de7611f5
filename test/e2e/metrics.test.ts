/**
 * `/metrics` (issue 14 §5): per-route activity, 401s and suspensions; on its own loopback listener by
 * default, on the public one only with CORDON_METRICS_TOKEN. The alert rules and the Grafana dashboard
 * of docs/ops/ name only series it exposes (issue 18 §5); metrics-world.test.ts gives each a value.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { beforeAll, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { Core } from '../../src/core.js';
import { buildMetricsServer } from '../../src/http/metrics-server.js';
import { buildServer } from '../../src/http/server.js';
import { createApp } from '../../src/oauth/apps.js';
import { describeBackends } from '../support/backends.js';
import { useServer } from '../support/server.js';
import { appAccessToken, seedAccount, testCtx, type SeededAccount } from '../support/fixtures.js';
import { exposedNames, metricNames, type AlertRules, type Dashboard } from '../support/prometheus.js';

const TOKEN = 'metrics-token-0123456789abcdef0123456789';

describeBackends('metrics', (backend) => {
  let core: Core;
  let server: FastifyInstance;
  let seed: SeededAccount;

  const suite = useServer(backend);

  beforeAll(async () => {
    ({ core, server } = suite);
    seed = await seedAccount(core, 1);
  });

  /** The value of one sample in a Prometheus exposition, 0 when absent. */
  const sample = (text: string, series: string) =>
    Number(
      text
        .split('\n')
        .find((line) => line.startsWith(`${series} `))
        ?.split(' ')[1] ?? 0,
    );

  it('serves per-route activity, 401s and suspensions on its own listener, and nothing on the public one', async () => {
    expect((await server.inject('/metrics')).statusCode).toBe(404);
    const { app, clientSecret } = await createApp(core.directory, testCtx, seed.accountId, {
      name: 'soar',
      permissions: ['users:suspend'],
    });
    const token = await appAccessToken(server, app.client_id, clientSecret!);
    const users = `/v1/accounts/${seed.accountId}/users`;
    expect((await server.inject({ url: users })).statusCode).toBe(401);
    expect(
      (
        await server.inject({
          method: 'POST',
          url: `${users}/${seed.members[0]!.id}:suspend`,
          headers: { authorization: `Bearer ${token}` },
        })
      ).statusCode,
    ).toBe(200);
    await core.audit.sequencer.drain();

    const listener = buildMetricsServer(core);
    try {
      await listener.listen({ host: '127.0.0.1', port: 0 });
      const { port } = listener.server.address() as { port: number };
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(
        sample(text, 'cordon_http_requests_total{method="GET",route="/v1/accounts/:account/users",status="401"}'),
      ).toBe(1);
      expect(
        sample(
          text,
          'cordon_http_requests_total{method="POST",' +
            'route="/v1/accounts/:account/users/:user(^[^:]+)::suspend",status="200"}',
        ),
      ).toBe(1);
      expect(sample(text, 'cordon_http_unauthenticated_refusals_total{status="401"}')).toBe(1);
      expect(sample(text, 'cordon_user_suspensions_total{actor_type="app"}')).toBe(1);
      expect(sample(text, 'cordon_audit_entries_total{action="user.suspend",outcome="changed"}')).toBe(1);
      // Route patterns, never paths: no id of the request reaches a label.
      expect(text).not.toContain(seed.accountId);
      expect(text).toContain('process_resident_memory_bytes');
    } finally {
      await listener.close();
    }
  });

  it('with CORDON_METRICS_TOKEN, answers 401 without the token on the public listener and its own', async () => {
    const withToken = { ...core, config: { ...core.config, metrics: { listen: undefined, token: TOKEN } } };
    const publicServer = await buildServer(withToken);
    const listener = buildMetricsServer(withToken);
    try {
      for (const target of [publicServer, listener]) {
        const missing = await target.inject('/metrics');
        expect([missing.statusCode, missing.headers['www-authenticate'], missing.json()]).toEqual([
          401,
          'Bearer realm="cordon-metrics"',
          {
            code: 16,
            message: 'the metrics token is missing or wrong',
            details: [
              { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'UNAUTHENTICATED', domain: 'cordon' },
            ],
          },
        ]);
        expect(
          (await target.inject({ url: '/metrics', headers: { authorization: `Bearer ${TOKEN}x` } })).statusCode,
        ).toBe(401);
        const ok = await target.inject({ url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
        expect(ok.statusCode).toBe(200);
        expect(ok.body).toContain('cordon_http_requests_total');
      }
    } finally {
      await publicServer.close();
      await listener.close();
    }
  });

  it("the README's table documents every cordon_ series; the alert rules and dashboard name only those", async () => {
    const listener = buildMetricsServer(core);
    const text = (await listener.inject('/metrics')).body;
    await listener.close();
    const exposed = exposedNames(text);
    const declared = [...text.matchAll(/^# TYPE (cordon_\S+) /gm)].map((m) => m[1]).sort();
    const readme = readFileSync('README.md', 'utf8');
    const table = readme.slice(readme.indexOf('### Metrics'), readme.indexOf('## Benchmarks'));
    expect([...table.matchAll(/^\| `(cordon_\w+)` \|/gm)].map((m) => m[1]).sort()).toEqual(declared);
    const rules = parseYaml(readFileSync('docs/ops/alerts.yml', 'utf8')) as AlertRules;
    const alerts = rules.groups.flatMap((group) => group.rules);
    expect(alerts.map((rule) => rule.alert).sort()).toEqual([
      'CordonApprovalAboutToExpire',
      'CordonBreakerTripped',
      'CordonCheckpointStale',
      'CordonMetricsDatabaseDown',
      'CordonSequencerLagging',
      'CordonSignalsRefused',
      'CordonWebhookDeliveriesFailing',
    ]);
    for (const rule of alerts) {
      expect(rule).toMatchObject({ expr: expect.any(String), for: expect.any(String) });
      expect(rule.annotations.summary, rule.alert).toEqual(expect.any(String));
      const names = metricNames(rule.expr);
      expect(names.length, rule.alert).toBeGreaterThan(0);
      expect(
        names.filter((name) => !exposed.has(name)),
        rule.alert,
      ).toEqual([]);
    }
    const dashboard = JSON.parse(readFileSync('docs/ops/grafana-dashboard.json', 'utf8')) as Dashboard;
    expect(dashboard).toMatchObject({ title: expect.any(String), uid: expect.any(String), schemaVersion: 39 });
    const targets = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((t) => [panel.title, t.expr]));
    expect(targets.length).toBeGreaterThan(10);
    for (const [title, expr] of targets) {
      const names = metricNames(expr!);
      expect(names.length, title).toBeGreaterThan(0);
      expect(
        names.filter((name) => !exposed.has(name)),
        title,
      ).toEqual([]);
    }
  });
});
