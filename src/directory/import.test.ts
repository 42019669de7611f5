import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { describeBackends, useSharedCore } from '../../test/support/backends.js';
import { seedAccount, testCtx, type SeededAccount } from '../../test/support/fixtures.js';
import { countUsers, findUserByEmail } from '../store/users.js';
import { listGroupIdsOfUser, listGroups } from '../store/groups.js';
import { listAuditEntries } from '../store/audit.js';
import { importUsers, ImportRejected, parseCsv, parseImport } from './import.js';

describe('import parsing', () => {
  it('parses RFC 4180 CSV with quotes, doubled quotes, CRLF and multi-line fields, keeping start lines', () => {
    const text =
      'email,display_name\r\n"a@x.io","Smith, Ann"\r\nb@x.io,"Say ""hi"""\n"c@x.io","two\nlines"\nd@x.io,D\n';
    expect(parseCsv(text)).toEqual([
      { line: 1, fields: ['email', 'display_name'] },
      { line: 2, fields: ['a@x.io', 'Smith, Ann'] },
      { line: 3, fields: ['b@x.io', 'Say "hi"'] },
      { line: 4, fields: ['c@x.io', 'two\nlines'] },
      { line: 6, fields: ['d@x.io', 'D'] },
    ]);
  });

  it('reads the same users from JSONL and CSV', () => {
    const jsonl = [
      '{"email":"a@x.io","display_name":"A","role":"ADMIN","groups":["SOC","Eng"]}',
      '',
      '{"email":"b@x.io","display_name":"B","externally_managed":true}',
    ].join('\n');
    const csv = 'email,display_name,role,groups,externally_managed\na@x.io,A,admin,SOC;Eng,\nb@x.io,B,,,true\n';
    const expected = [
      { email: 'a@x.io', display_name: 'A', role: 'ADMIN', externally_managed: false, groups: ['SOC', 'Eng'] },
      { email: 'b@x.io', display_name: 'B', role: 'MEMBER', externally_managed: true, groups: undefined },
    ];
    expect(parseImport(jsonl, 'jsonl').rows.map((r) => r.user)).toEqual(expected);
    expect(parseImport(csv, 'csv').rows.map((r) => r.user)).toEqual(expected);
    expect(parseImport(jsonl, 'jsonl').rows.map((r) => r.line)).toEqual([1, 3]);
  });

  it('reports every bad row by line number', () => {
    const jsonl = [
      '{"email":"ok@x.io","display_name":"Ok"}',
      'not json',
      '[1]',
      '{"email":"nope","display_name":""}',
      '{"email":"r@x.io","display_name":"R","role":"GOD","colour":"red"}',
    ].join('\n');
    expect(parseImport(jsonl, 'jsonl').problems).toEqual([
      { line: 2, problem: 'not valid JSON' },
      { line: 3, problem: 'expected a JSON object' },
      { line: 4, problem: 'email: expected an email address' },
      { line: 4, problem: 'display_name: expected 1 to 200 characters' },
      { line: 5, problem: 'role: expected one of OWNER, ADMIN, MEMBER' },
      { line: 5, problem: 'colour: unknown field' },
    ]);
    expect(parseImport('email,name\nx@y.io,X\n', 'csv').problems).toEqual([
      {
        line: 1,
        problem:
          'header must name email and display_name, and only these columns: email, display_name, role, groups, ' +
          'externally_managed',
      },
    ]);
    expect(parseImport('email,display_name\nx@y.io\n', 'csv').problems).toEqual([
      { line: 2, problem: 'expected 2 fields, found 1' },
    ]);
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.constantFrom('csv' as const, 'jsonl' as const), (text, format) => {
        const { rows, problems } = parseImport(text, format);
        expect(Array.isArray(rows) && Array.isArray(problems)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describeBackends('bulk import', (backend) => {
  const t = useSharedCore(backend);
  let seed: SeededAccount;

  beforeEach(async () => {
    seed = await seedAccount(t.core, 1);
  });

  it('imports users with their groups and audit entries, reusing existing groups', async () => {
    const lines = Array.from({ length: 250 }, (_, i) =>
      JSON.stringify({
        email: `user${i}@import.example`,
        display_name: `User ${i}`,
        groups: i % 2 ? ['staff', 'Night Shift'] : ['Night Shift'],
      }),
    );
    const progress: number[] = [];
    const result = await importUsers(
      t.core.directory,
      testCtx,
      seed.accountId,
      parseImport(lines.join('\n'), 'jsonl'),
      {
        batchSize: 100,
        onProgress: (n) => progress.push(n),
      },
    );
    expect(result).toEqual({ imported: 250 });
    expect(progress).toEqual([100, 200, 250]);
    expect(await countUsers(t.core.database.db, seed.accountId)).toBe(4 + 250);
    const groups = await listGroups(t.core.database.db, seed.accountId);
    expect(groups.map((g) => g.name).sort()).toEqual(['Night Shift', 'Staff']); // "staff" matched the existing "Staff"
    const user1 = await findUserByEmail(t.core.database.db, seed.accountId, 'USER1@import.example');
    expect((await listGroupIdsOfUser(t.core.database.db, seed.accountId, user1!.id)).length).toBe(2);

    await t.core.audit.sequencer.drain();
    const entries = await listAuditEntries(t.core.database.db, { accountId: seed.accountId });
    expect(
      entries.filter(
        (e) => e.action === 'user.create' && (e.details as { email: string }).email.endsWith('@import.example'),
      ),
    ).toHaveLength(250);
    expect(
      entries.filter((e) => e.action === 'group.create' && (e.details as { name: string }).name === 'Night Shift'),
    ).toHaveLength(1);
    expect(entries.map((e) => e.idx)).toEqual(entries.map((_, i) => i));
  });

  it('writes nothing when any row is bad, a duplicate, or already taken, and says which lines', async () => {
    const before = await countUsers(t.core.database.db, seed.accountId);
    const auditBefore = (
      await listAuditEntries(t.core.database.db, { accountId: seed.accountId, includeUnsequenced: true })
    ).length;
    const text = [
      '{"email":"new1@import.example","display_name":"New 1","groups":["Brand New Group"]}',
      '{"email":"NEW1@import.example","display_name":"Dup"}',
      '{"email":"m0@test.example","display_name":"Taken"}',
      '{"email":"m0@TEST.example","display_name":"","role":"GOD"}',
    ].join('\n');
    const error = await importUsers(t.core.directory, testCtx, seed.accountId, parseImport(text, 'jsonl')).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ImportRejected);

    expect((error as ImportRejected).problems).toEqual([
      { line: 2, problem: 'email: duplicate of line 1' },
      { line: 3, problem: 'email: a user with this email already exists' },
      // A row's every problem, its fields' and its email's, at once.
      { line: 4, problem: 'display_name: expected 1 to 200 characters' },
      { line: 4, problem: 'role: expected one of OWNER, ADMIN, MEMBER' },
      { line: 4, problem: 'email: duplicate of line 3' },
    ]);

    expect(await countUsers(t.core.database.db, seed.accountId)).toBe(before);
    expect(await listGroups(t.core.database.db, seed.accountId)).toHaveLength(1);
    expect(
      await listAuditEntries(t.core.database.db, { accountId: seed.accountId, includeUnsequenced: true }),
    ).toHaveLength(auditBefore);
  });

  it('writes nothing when a later batch fails', async () => {
    const before = await countUsers(t.core.database.db, seed.accountId);
    const lines = Array.from({ length: 30 }, (_, i) =>
      JSON.stringify({ email: `late${i}@import.example`, display_name: `Late ${i}` }),
    );
    const boom = new Error('disk full');
    await expect(
      importUsers(t.core.directory, testCtx, seed.accountId, parseImport(lines.join('\n'), 'jsonl'), {
        batchSize: 10,
        onProgress: (written) => {
          if (written === 20) throw boom;
        },
      }),
    ).rejects.toBe(boom);
    expect(await countUsers(t.core.database.db, seed.accountId)).toBe(before);
    expect(
      (await listAuditEntries(t.core.database.db, { accountId: seed.accountId, includeUnsequenced: true })).some((e) =>
        JSON.stringify(e.details).includes('late'),
      ),
    ).toBe(false);
  });

  it('imports users with many groups each (more audit rows than one statement may bind)', async () => {
    const groups = Array.from({ length: 8 }, (_, g) => `Team ${g}`);
    const lines = Array.from({ length: 1000 }, (_, i) =>
      JSON.stringify({ email: `many${i}@import.example`, display_name: `Many ${i}`, groups }),
    );
    const memberships = async () =>
      (await listAuditEntries(t.core.database.db, { accountId: seed.accountId, includeUnsequenced: true })).filter(
        (e) => e.action === 'membership.add',
      ).length;
    const before = await memberships();
    expect(
      await importUsers(t.core.directory, testCtx, seed.accountId, parseImport(lines.join('\n'), 'jsonl')),
    ).toEqual({ imported: 1000 });
    await t.core.audit.sequencer.drain();
    const entries = await listAuditEntries(t.core.database.db, { accountId: seed.accountId });
    expect(await memberships()).toBe(before + 8000);
    expect(entries.map((e) => e.idx)).toEqual(entries.map((_, i) => i));
  });
});
