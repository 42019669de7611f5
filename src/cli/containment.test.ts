import { describe, expect, it } from 'vitest';
import { describeDrift, describeStepDrift } from './containment.js';

describe('drift in words', () => {
  const groups = new Map([['G1', 'SOC']]);

  it('says what changed since the suspension, groups by name', () => {
    expect(
      describeDrift(
        { role: { snapshot: 'ADMIN', now: 'MEMBER' }, groups_removed: ['G1'], groups_added: ['G9'] },
        groups,
      ),
    ).toBe(
      'role changed from ADMIN to MEMBER (kept); removed from SOC since (stays removed); added to G9 since (kept)',
    );
    expect(describeDrift({ role: null, groups_removed: [], groups_added: [] }, groups)).toBe(
      'nothing changed since the suspension',
    );
    expect(describeDrift(null, groups)).toBe('no drift recorded');
  });

  it("reads a target step's drift as words", () => {
    expect(describeStepDrift({ deleted: true })).toBe('deleted');
    expect(describeStepDrift({ reactivated_elsewhere: true, state: 'ACTIVE' })).toBe(
      'reactivated elsewhere; state ACTIVE',
    );
  });
});
