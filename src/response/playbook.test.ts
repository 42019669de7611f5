import { describe, expect, it } from 'vitest';
import { lintPlaybook, toPlaybook, type PlaybookDocument } from './playbook.js';

describe("a playbook's approval expiry", () => {
  const base: PlaybookDocument = { name: 'ask', match: { types: ['x.*'] }, action: 'suspend', mode: 'approval' };

  it('sets how long its plans wait for approvals, or leaves the default', () => {
    expect(toPlaybook({ ...base, approval_expires_after: '15m' }, 1, 'h').approvalTtlSeconds).toBe(900);
    expect(toPlaybook(base, 1, 'h').approvalTtlSeconds).toBeNull();
    expect(lintPlaybook({ ...base, approval_expires_after: '7d' })).toEqual([]);
  });

  it('is refused outside 1m..7d, on a notify playbook, and when not a duration', () => {
    expect(lintPlaybook({ ...base, approval_expires_after: '30s' })).toEqual([
      { path: '/approval_expires_after', message: 'must be from 1m to 7d' },
    ]);
    expect(lintPlaybook({ ...base, approval_expires_after: '8d' })).toEqual([
      { path: '/approval_expires_after', message: 'must be from 1m to 7d' },
    ]);
    expect(lintPlaybook({ name: 'n', match: {}, action: 'notify', approval_expires_after: '1h' })).toEqual([
      { path: '/approval_expires_after', message: 'a notify playbook asks for no approval' },
    ]);
    expect(lintPlaybook({ ...base, approval_expires_after: '15 minutes' })).toEqual([
      { path: '/approval_expires_after', message: expect.stringContaining('pattern') as string },
    ]);
  });
});
