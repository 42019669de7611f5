import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import type { Core } from '../../src/core.js';
import { openCheckpoint } from '../../src/audit/checkpoint.js';
import { exportLog } from '../../src/audit/export.js';
import { leafHashOf } from '../../src/audit/leaf.js';
import { verifyConsistency, verifyInclusion } from '../../src/audit/merkle.js';
import { parseVerifierKey } from '../../src/audit/note.js';
import { verifyExport, type VerifyReport } from '../../src/audit/verify.js';
import { buildServer } from '../../src/http/server.js';
import { createApp } from '../../src/oauth/apps.js';
import { reactivateUser, suspendUser } from '../../src/directory/user-state.js';
import { findCheckpoint } from '../../src/store/checkpoints.js';
import { createTestDatabase, describeBackends, openTestCore, type TestDatabase } from '../support/backends.js';
import { runCli } from '../support/cli.js';
import { seedAccount, testCtx, type SeededAccount } from '../support/fixtures.js';

vi.setConfig({ testTimeout: 180_000 });

describeBackends('audit export and verification', (backend) => {
  let database: TestDatabase;
  let core: Core;
  let seed: SeededAccount;
  let dir: string;
  let key: string;
  let size: number;
  let secret: string;

  beforeAll(async () => {
    database = await createTestDatabase(backend);
    core = await openTestCore(database);
    seed = await seedAccount(core, 4);
    secret = (
      await createApp(core.directory, testCtx, seed.accountId, { name: 'soar', permissions: ['users:suspend'] })
    ).clientSecret!;
    for (const member of seed.members) {
      await suspendUser(core.directory, { ...testCtx, cause: { reason: 'phishing' } }, seed.accountId, member.id);
      await reactivateUser(core.directory, testCtx, seed.accountId, member.id);
    }
    await core.audit.settle();
    await core.audit.sequencer.drain();
    await core.checkpointer.pass();
    size = (await findCheckpoint(core.database.db, seed.accountId))!.size;
    key = core.checkpointKey.forLog(seed.accountId).verifierKey;
    dir = mkdtempSync(path.join(tmpdir(), 'cordon-audit-'));
  });
  afterAll(async () => {
    await core.close();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const exported = async () => {
    let text = '';
    for await (const chunk of exportLog(core.database.db, core.checkpointKey, seed.accountId)) text += chunk;
    return text;
  };
  const verify = async (text: string, previousCheckpoint?: string): Promise<VerifyReport> => {
    const chunks = (async function* () {
      yield text;
    })();
    return verifyExport(chunks, { trustedKey: key, ...(previousCheckpoint ? { previousCheckpoint } : {}) });
  };
  /** Applies `tamper`, expects the export to fail at `index`, then puts entries and tree back as they were. */
  const expectCaught = async (tamper: string | string[], index: number, problem: RegExp) => {
    const log = `account_id = '${seed.accountId}'`;
    await sql.raw(`CREATE TABLE saved_entries AS SELECT * FROM audit_entries WHERE ${log}`).execute(core.database.db);
    await sql.raw(`CREATE TABLE saved_nodes AS SELECT * FROM audit_tree_nodes WHERE ${log}`).execute(core.database.db);
    try {
      for (const statement of [tamper].flat()) await sql.raw(statement).execute(core.database.db);
      expect(await verify(await exported())).toMatchObject({
        ok: false,
        firstBadIndex: index,
        problem: expect.stringMatching(problem),
      });
    } finally {
      for (const [table, saved] of [
        ['audit_entries', 'saved_entries'],
        ['audit_tree_nodes', 'saved_nodes'],
      ]) {
        await sql.raw(`DELETE FROM ${table} WHERE ${log}`).execute(core.database.db);
        await sql.raw(`INSERT INTO ${table} SELECT * FROM ${saved}`).execute(core.database.db);
        await sql.raw(`DROP TABLE ${saved}`).execute(core.database.db);
      }
    }
    expect((await verify(await exported())).ok).toBe(true);
  };

  it('exports a log that `cordon audit verify` accepts, and no secret is in it', async () => {
    const text = await exported();
    expect(text.split('\n').filter(Boolean)).toHaveLength(size + 1);
    expect(text).not.toContain(secret);
    expect(text).not.toContain(seed.owner.password_hash!);
    expect(await verify(text)).toEqual({
      ok: true,
      log: seed.accountId,
      size,
      root: expect.stringMatching(/^[0-9a-f]{64}$/),
      trusted: true,
    });

    // The CLI, on the same export.
    const file = path.join(dir, 'export.jsonl');
    writeFileSync(file, text);
    const ok = await runCli(['audit', 'verify', file, '--key', key], database.env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(
      new RegExp(`^OK: ${size} entries of log ${seed.accountId} reproduce the signed root [0-9a-f]{64}\\n$`),
    );
    const untrusted = await runCli(['audit', 'verify', file], database.env);
    expect(untrusted.stdout).toContain('pass --key to check who signed it');
  });

  it(
    'names the first bad entry when an entry, a leaf or ' + 'node hash, or the order was changed in the database',
    async () => {
      const log = `account_id = '${seed.accountId}'`;
      await expectCaught(
        `UPDATE audit_entries SET details = jsonb_set(details, '{forged}', 'true') WHERE ${log} AND idx = 3`,
        3,
        /leaf hash does not match the leaf/,
      );
      await expectCaught(
        `UPDATE audit_entries SET actor_id = actor_id || 'x' WHERE ${log} AND idx = 7`,
        7,
        /leaf hash does not match the leaf/,
      );
      await expectCaught(
        `UPDATE audit_tree_nodes SET hash = sha256(hash) WHERE ${log} AND level = 0 AND idx = 4`,
        4,
        /leaf hash does not match/,
      );
      await expectCaught(
        `UPDATE audit_tree_nodes SET hash = sha256(hash) WHERE ${log} AND level = 2 AND idx = 1`,
        4,
        /stored tree node at level 2 over entries 4\.\.7 does not match/,
      );
      await expectCaught(`DELETE FROM audit_entries WHERE ${log} AND idx = 5`, 5, /index is 6 at position 5/);
      // Swapped: each entry keeps its content but takes the other's place.
      await expectCaught(
        [
          `UPDATE audit_entries SET idx = -idx WHERE ${log} AND idx IN (2, 6)`,
          `UPDATE audit_entries SET idx = CASE idx WHEN -2 THEN 6 ELSE 2 END WHERE ${log} AND idx IN (-2, -6)`,
        ],
        2,
        /leaf hash does not match the leaf/,
      );
    },
  );

  /** An HTTP server on the core and a token of an app holding `permissions`. */
  const withServer = async (
    fn: (
      server: FastifyInstance,
      token: (permissions: string[]) => Promise<{ authorization: string }>,
    ) => Promise<void>,
  ) => {
    const server = await buildServer(core);
    const token = async (permissions: string[]) => {
      const { app, clientSecret } = await createApp(core.directory, testCtx, seed.accountId, {
        name: `reader-${permissions.join()}-${Math.random()}`,
        permissions,
      });
      const res = await server.inject({
        method: 'POST',
        url: '/oauth/token',
        headers: {
          authorization: `Basic ${Buffer.from(`${app.client_id}:${clientSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        payload: 'grant_type=client_credentials',
      });
      // The app's and the token's entries are numbered now, not in the middle of what the test counts.
      await core.audit.settle();
      await core.audit.sequencer.drain();
      return { authorization: `Bearer ${res.json().access_token}` };
    };
    try {
      await fn(server, token);
    } finally {
      await server.close();
    }
  };

  it('lists entries in index order, filtered and paged with tokens bound to their filters', () =>
    withServer(async (server, token) => {
      const reader = await token(['audit:read']);
      const base = `/v1/accounts/${seed.accountId}/audit/entries`;
      const all: Array<{ idx: number }> = [];
      let url = `${base}?page_size=7`;
      for (;;) {
        const page = (await server.inject({ url, headers: reader })).json();
        all.push(...page.entries);
        if (!page.next_page_token) break;
        url = `${base}?page_size=7&page_token=${page.next_page_token}`;
      }
      const size = (await server.inject({ url: `${base}?page_size=1`, headers: reader })).json().log_size;
      expect(all.map((e) => e.idx)).toEqual(Array.from({ length: size }, (_, i) => i));

      const suspensions = (
        await server.inject({ url: `${base}?action=user.suspend&page_size=2`, headers: reader })
      ).json();
      expect(suspensions.entries.map((e: { target_id: string }) => e.target_id)).toEqual(
        seed.members.slice(0, 2).map((m) => m.id),
      );
      const next = await server.inject({
        url: `${base}?action=user.suspend&page_size=2&page_token=${suspensions.next_page_token}`,
        headers: reader,
      });
      expect(next.json().entries.map((e: { target_id: string }) => e.target_id)).toEqual(
        seed.members.slice(2, 4).map((m) => m.id),
      );
      const otherFilter = await server.inject({
        url: `${base}?action=user.reactivate&page_token=${suspensions.next_page_token}`,
        headers: reader,
      });
      expect([otherFilter.statusCode, otherFilter.json().message]).toEqual([
        400,
        'page_token is not valid for this request: pass back next_page_token unchanged, with the same filter',
      ]);
      const forged = await server.inject({ url: `${base}?page_token=bm90LWEtdG9rZW4`, headers: reader });
      expect([forged.statusCode, forged.json().message]).toEqual([
        400,
        'page_token is not valid for this request: pass back next_page_token unchanged, with the same filter',
      ]);
      const target = (
        await server.inject({ url: `${base}?target_user=${seed.members[1]!.id}`, headers: reader })
      ).json();
      expect(
        target.entries.every(
          (e: { target_type: string; target_id: string }) =>
            e.target_type === 'user' && e.target_id === seed.members[1]!.id,
        ),
      ).toBe(true);
      expect(target.entries.map((e: { action: string }) => e.action)).toEqual(
        expect.arrayContaining(['user.create', 'user.suspend', 'user.reactivate']),
      );
      const future = (await server.inject({ url: `${base}?start_time=2999-01-01T00:00:00Z`, headers: reader })).json();
      expect(future).toEqual({ entries: [], next_page_token: '', log_size: size, people: {} });
      // The people a page names, by id, for callers that show them (the CLI's `audit tail`).
      expect(target.people[seed.members[1]!.id]).toEqual({
        email: seed.members[1]!.email,
        display_name: expect.any(String),
      });
    }));

  it('feeds SIEMs through the 1Password Events API paths, and as OCSF', () =>
    withServer(async (server, token) => {
      const reader = await token(['audit:read']);
      const post = (body: unknown, query = '', headers = reader) =>
        server.inject({
          method: 'POST',
          url: `/api/v2/auditevents${query}`,
          headers: { ...headers, 'content-type': 'application/json' },
          payload: JSON.stringify(body),
        });
      // What the XSOAR collector does: a reset cursor, then the cursor while has_more.
      let page = (await post({ limit: 5, start_time: '2000-01-01T00:00:00Z' })).json();
      const items = [...page.items];
      expect([page.items.length, page.has_more]).toEqual([5, true]);
      while (page.has_more) {
        page = (await post({ cursor: page.cursor })).json();
        items.push(...page.items);
      }
      const size = (
        await server.inject({ url: `/v1/accounts/${seed.accountId}/audit/entries?page_size=1`, headers: reader })
      ).json().log_size;
      expect(items).toHaveLength(size);
      expect(new Set(items.map((i) => i.uuid)).size).toBe(size);
      expect(items[0]).toMatchObject({
        uuid: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
        account_uuid: seed.accountId,
        action: 'account.create',
        object_type: 'account',
        object_uuid: seed.accountId,
      });
      expect(items.every((i) => i.account_uuid === seed.accountId)).toBe(true);
      // Caught up: the cursor stays usable and answers nothing new.
      expect((await post({ cursor: page.cursor })).json()).toMatchObject({ has_more: false, items: [] });
      // The default window is the last hour: everything here is recent.
      expect((await post({ limit: 1000 })).json().items).toHaveLength(size);

      const ocsf = (await post({ limit: 1000, start_time: '2000-01-01T00:00:00Z' }, '?format=ocsf')).json().items;
      const suspension = ocsf.find((e: { unmapped: { action: string } }) => e.unmapped.action === 'user.suspend');
      expect(suspension).toMatchObject({
        class_uid: 3001,
        category_uid: 3,
        activity_id: 5,
        type_uid: 300105,
        status_id: 1,
        user: { uid: seed.members[0]!.id },
        metadata: { product: { name: 'Cordon' } },
      });
      expect(ocsf.find((e: { unmapped: { action: string } }) => e.unmapped.action === 'user.reactivate')).toMatchObject(
        { class_uid: 3001, activity_id: 2 },
      );

      const refusals = [
        await post({ cursor: page.cursor, limit: 5 }),
        await post({ cursor: 'not-a-cursor' }),
        await post({ limit: 5000 }),
        await post({ limit: 5 }, '', await token(['users:list'])),
        await post({ limit: 5 }, '', { authorization: '' }),
      ];
      expect(refusals.map((r) => r.statusCode)).toEqual([400, 400, 400, 403, 401]);
    }));

  it('serves checkpoints, inclusion and consistency proofs that check out, to audit:read apps only', () =>
    withServer(async (server, token) => {
      const reader = await token(['audit:read']);
      const base = `/v1/accounts/${seed.accountId}/audit`;
      const first = (await server.inject({ url: `${base}/checkpoint`, headers: reader })).json();
      const { keys } = (await server.inject({ url: `/v1/audit/keys?log=${seed.accountId}` })).json();
      // The log's key is named after it, and the name is the checkpoint's origin (C2SP tlog-checkpoint).
      expect(keys).toEqual([{ name: first.origin, verifier_key: key, algorithm: 'Ed25519' }]);
      expect(first.origin).toBe(`${core.checkpointKey.name}/${seed.accountId}`);
      expect(key.split('+')[0]).toBe(first.origin);
      const opened = openCheckpoint(first.signed_note, [parseVerifierKey(keys[0].verifier_key)], {
        origin: first.origin,
      }).checkpoint;
      expect([opened.size, opened.rootHash.toString('base64')]).toEqual([first.size, first.root]);

      // Sizes named explicitly: the background checkpointer may sign a newer one at any moment.
      const proof = (
        await server.inject({ url: `${base}/entries/3/proof?tree_size=${first.size}`, headers: reader })
      ).json();
      expect(proof).toMatchObject({ index: 3, tree_size: first.size, entry: { idx: 3, account_id: seed.accountId } });
      const leaf = Buffer.from(proof.leaf_hash, 'base64');
      expect(leaf.equals(leafHashOf(proof.entry))).toBe(true);
      expect(
        verifyInclusion(
          leaf,
          3,
          first.size,
          proof.inclusion_path.map((h: string) => Buffer.from(h, 'base64')),
          opened.rootHash,
        ),
      ).toBe(true);

      await core.audit.record({
        accountId: seed.accountId,
        ctx: testCtx,
        action: 'user.read',
        target: { type: 'user', id: 'x' },
        outcome: 'read',
      });
      await core.audit.sequencer.drain();
      await core.checkpointer.pass();
      const second = (await server.inject({ url: `${base}/checkpoint`, headers: reader })).json();
      const consistency = (
        await server.inject({ url: `${base}/consistency?first=${first.size}&second=${second.size}`, headers: reader })
      ).json();
      const roots = [first, second].map((c) => Buffer.from(c.root, 'base64'));
      expect(
        verifyConsistency(
          first.size,
          second.size,
          consistency.proof.map((h: string) => Buffer.from(h, 'base64')),
          roots[0]!,
          roots[1]!,
        ),
      ).toBe(true);
      expect(
        (
          await server.inject({
            url: `${base}/consistency?first=${second.size}&second=${second.size}`,
            headers: reader,
          })
        ).json(),
      ).toEqual({ first: second.size, second: second.size, proof: [] });

      const refusals = await Promise.all([
        server.inject({ url: `${base}/consistency?first=0`, headers: reader }),
        server.inject({ url: `${base}/consistency?first=${second.size + 1}&second=${second.size}`, headers: reader }),
        server.inject({ url: `${base}/entries/${second.size}/proof?tree_size=${second.size}`, headers: reader }),
        server.inject({ url: `${base}/entries/1/proof?tree_size=${first.size + 1000}`, headers: reader }),
        server.inject({ url: `${base}/checkpoint`, headers: await token(['users:list']) }),
        server.inject({ url: `${base}/export` }),
      ]);
      expect(refusals.map((r) => r.statusCode)).toEqual([400, 400, 400, 404, 403, 401]);
    }));

  it('fails consistency against a saved checkpoint when the log was truncated and grown again', async () => {
    await core.checkpointer.stop(); // no background signing while the database is being rewritten
    await core.audit.settle(); // and nothing left for the sequencer to number meanwhile
    await core.audit.sequencer.drain();
    const { note: saved, size: savedSize } = (await findCheckpoint(core.database.db, seed.accountId))!;
    expect((await verify(await exported(), saved)).ok).toBe(true);
    // Someone with the database drops the tail, tree and checkpoints included, and lets the log grow back.
    const keep = savedSize - 3;
    await sql
      .raw(`DELETE FROM audit_entries WHERE account_id = '${seed.accountId}' AND idx >= ${keep}`)
      .execute(core.database.db);
    await sql
      .raw(`DELETE FROM audit_tree_nodes WHERE account_id = '${seed.accountId}' AND (idx + 1) * (1 << level) > ${keep}`)
      .execute(core.database.db);
    await sql.raw(`DELETE FROM audit_checkpoints WHERE account_id = '${seed.accountId}'`).execute(core.database.db);
    await sql
      .raw(`UPDATE audit_logs SET size = ${keep}, tree_size = ${keep} WHERE account_id = '${seed.accountId}'`)
      .execute(core.database.db);
    for (let i = 0; i < 5; i++)
      await core.audit.record({
        accountId: seed.accountId,
        ctx: testCtx,
        action: 'user.read',
        target: { type: 'user', id: `R${i}` },
        outcome: 'read',
      });
    await core.audit.sequencer.drain();
    await core.checkpointer.pass();
    const regrown = await exported();
    expect((await verify(regrown)).ok).toBe(true); // on its own it looks fine
    const report = await verify(regrown, saved);
    expect(report).toEqual({
      ok: false,
      problem: expect.stringMatching(
        new RegExp(`^not consistent with the previous checkpoint \\(size ${savedSize}\\)`),
      ),
    });

    const file = path.join(dir, 'regrown.jsonl');
    writeFileSync(file, regrown);
    writeFileSync(path.join(dir, 'saved.checkpoint'), saved);
    const cli = await runCli(
      ['audit', 'verify', file, '--key', key, '--previous', path.join(dir, 'saved.checkpoint')],
      database.env,
    );
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain(
      `cordon: verification FAILED: not consistent with the previous checkpoint (size ${savedSize})`,
    );
    expect(readFileSync(file, 'utf8')).toBe(regrown);
  });
});
