import { describe, expect, it } from 'vitest';
import { playbookMatches } from './guards/match-playbook.js';
import { lintPlaybook, toPlaybook, type PlaybookDocument } from './playbook.js';
import { BUILT_IN_PLAYBOOKS, withBuiltIns } from './playbooks.js';

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

describe('playbooks of a non-human identity', () => {
  const leak: PlaybookDocument = { name: 'leak', match: { types: ['secret.leaked'] }, action: 'rotate_secret' };
  const signal = {
    id: 's',
    source_id: 'src',
    external_id: 'e',
    type: 'secret.leaked',
    title: 't',
    severity: 'critical' as const,
    confidence: 1,
    subject: {},
    observed_time: new Date(0).toISOString(),
    tags: [],
  };
  const user = { role: 'MEMBER', groups: [] } as unknown as Parameters<typeof playbookMatches>[2];

  it('take no suspension settings and name no role or group', () => {
    expect(lintPlaybook({ ...leak, mode: 'auto' })).toEqual([]);
    expect(lintPlaybook({ ...leak, restore_after: '1h', lock: false, targets: 'all' }).map((p) => p.path)).toEqual([
      '/restore_after',
      '/lock',
      '/targets',
    ]);
    expect(lintPlaybook({ ...leak, match: { types: ['x'], subject: { roles: ['ADMIN'] } } })).toEqual([
      { path: '/match/subject', message: 'rotate_secret acts on a non-human identity' },
    ]);
  });

  it('match only a non-human subject, as suspend matches only a user and notify both', () => {
    const playbook = (action: PlaybookDocument['action']) => toPlaybook({ ...leak, action }, 1, 'h');
    const matches = (action: PlaybookDocument['action']) => [
      playbookMatches(playbook(action), signal, undefined),
      playbookMatches(playbook(action), signal, user),
    ];
    expect(matches('rotate_secret')).toEqual([true, false]);
    expect(matches('disable_app')).toEqual([true, false]);
    expect(matches('suspend')).toEqual([false, true]);
    expect(matches('notify')).toEqual([true, true]);
  });

  it('the built-in leaked-secret playbook rotates at once, until the account applies one of its name', () => {
    const [builtIn] = BUILT_IN_PLAYBOOKS;
    expect(builtIn).toMatchObject({ name: 'leaked-secret', version: 0, action: 'rotate_secret', mode: 'auto' });
    expect(withBuiltIns([]).map((p) => p.name)).toEqual(['leaked-secret']);
    const own = { ...toPlaybook({ ...leak, name: 'leaked-secret', action: 'notify' }, 3, 'h') };
    expect(withBuiltIns([own])).toEqual([own]);
  });
});
