// Runs once scim-server.ts (helper H2's SCIMMY server) is merged: the harness's adapter over it.
import { expect, it } from 'vitest';
import { call } from './targets-harness-sut.js';
import { loadScimFactory, startScimTarget } from './targets-scim.js';

it('the SCIM target adapter over the real SCIMMY server, through the proxy', async () => {
  const target = await startScimTarget(await loadScimFactory(), ['a@corp.example', 'b@corp.example']);
  try {
    const { config, credentials } = target.targetSpec();
    const base = config.base_url as string;
    const list = await call(
      base,
      'GET',
      '/Users?filter=' + encodeURIComponent('userName eq "a@corp.example"'),
      credentials.token,
    );
    expect(list.status).toBe(200);
    const id = list.body.Resources[0].id as string;
    target.proxy.setRules([{ kind: 'throttle', method: 'PATCH', every: 2 }]);
    const patch = (v: boolean) =>
      call(base, 'PATCH', `/Users/${id}`, credentials.token, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'active', value: v }],
      });
    expect((await patch(false)).status).toBe(200);
    expect((await patch(false)).status).toBe(429);
    expect(await target.states()).toEqual(
      new Map([
        ['a@corp.example', false],
        ['b@corp.example', true],
      ]),
    );
    expect(target.proxy.counts()[`PATCH ${new URL(base).pathname}/Users/${id}`]).toEqual({
      seen: 2,
      forwarded: 1,
      faulted: 1,
    });
  } finally {
    await target.close();
  }
});
