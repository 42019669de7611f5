import { readdirSync, readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../cli/main.js';
import { AuditActions, auditActionSpec, ocsfMappingOf, renderAuditActions } from './actions.js';
import { toOcsfEvent, toOnePasswordEvent } from './feed.js';
import { renderSignInOutcomes } from './sign-in-attempts.js';
import type { NumberedEntry } from '../store/audit.js';

const entry = (action: string): NumberedEntry => ({
  account_id: 'A',
  idx: 0,
  recorded_at: '2025-01-01T00:00:00.000000Z',
  actor_type: 'user',
  actor_id: 'U',
  action,
  target_type: 'user',
  target_id: 'T',
  cause: {},
  authz: {},
  outcome: 'changed',
  details: {},
});

describe('the registry of audit actions', () => {
  it('gives every action a target and a one-line meaning', () => {
    for (const [action, spec] of Object.entries(AuditActions)) {
      expect(action).toMatch(/^[a-z]+(\.[a-z_]+)+$/);
      expect([spec.target].flat().length).toBeGreaterThan(0);
      expect(spec.meaning).toMatch(/^[A-Z].*\.$/);
      expect(spec.meaning).not.toContain('\n');
    }
  });

  it('is documented in the README exactly as `cordon audit actions` prints it', async () => {
    expect(readFileSync(new URL('../../README.md', import.meta.url), 'utf8')).toContain(renderAuditActions());
    const stdout = new PassThrough();
    const chunks: Buffer[] = [];
    stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    expect(await main(['node', 'cordon', 'audit', 'actions'], { stdout, stderr: new PassThrough(), env: {} })).toBe(0);
    expect(Buffer.concat(chunks).toString('utf8')).toBe(renderAuditActions() + '\n');
  });

  it('lists no action that nothing writes', () => {
    const sources = readdirSync(new URL('..', import.meta.url), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts') && file !== 'audit/actions.ts')
      .map((file) => readFileSync(new URL(`../${file}`, import.meta.url), 'utf8'))
      .join('\n');
    for (const action of Object.keys(AuditActions)) expect(sources, action).toContain(`'${action}'`);
  });

  it('knows only its own actions, never an inherited property', () => {
    expect(auditActionSpec('user.suspend')?.target).toBe('user');
    expect(auditActionSpec('constructor')).toBeUndefined();
    expect(ocsfMappingOf('toString')).toEqual({ class: 'api_activity', activity_id: 99, activity_name: 'Other' });
  });

  it('maps state changes of accounts to OCSF Account Change, everything else to API Activity', () => {
    const classOf = (action: string) => {
      const event = toOcsfEvent(entry(action));
      return [event.class_uid, event.category_uid, event.activity_id, event.activity_name, event.type_uid];
    };
    expect(classOf('user.suspend')).toEqual([3001, 3, 5, 'Disable', 300105]);
    expect(classOf('user.reactivate')).toEqual([3001, 3, 2, 'Enable', 300102]);
    expect(classOf('user.create')).toEqual([3001, 3, 1, 'Create', 300101]);
    expect(classOf('user.credentials.reset')).toEqual([3001, 3, 3, 'Password Change', 300103]);
    expect(classOf('plan.approve')).toEqual([6003, 6, 99, 'Other', 600399]);
    expect(toOcsfEvent(entry('group.create'))).toMatchObject({
      class_name: 'API Activity',
      category_name: 'Application Activity',
    });
    expect(toOcsfEvent(entry('user.suspend'))).toMatchObject({
      class_name: 'Account Change',
      category_name: 'Identity & Access Management',
    });
  });
});

describe('the Events API vocabulary', () => {
  it('names 1Password’s action where it has one, Cordon’s otherwise, and keeps Cordon’s under cordon.action', () => {
    expect(toOnePasswordEvent(entry('user.suspend'))).toMatchObject({
      action: 'suspend',
      object_type: 'user',
      cordon: { action: 'user.suspend' },
    });
    expect(toOnePasswordEvent(entry('user.reactivate')).action).toBe('reactivate');
    expect(toOnePasswordEvent(entry('plan.approve')).action).toBe('plan.approve');
  });

  it('documents the sign-in categories in docs/events-api.md exactly as the feed maps them', () => {
    expect(readFileSync(new URL('../../docs/events-api.md', import.meta.url), 'utf8')).toContain(
      renderSignInOutcomes(),
    );
  });
});
