import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signCheckpoint } from './checkpoint.js';
import { leafData, leafHashOf, leafObject } from './leaf.js';
import { EMPTY_ROOT, hashChildren, hashLeaf, nodesCompletedBy, rootAt, type Hash, type NodeReader } from './merkle.js';
import { generateNoteSigner, type NoteSigner } from './note.js';
import { exportLine, verifyExport, type VerifyOptions } from './verify.js';
import type { NumberedEntry } from '../store/audit.js';

const ORIGIN = 'cordon.test/audit';
const LOG = 'acc_01J0000000000000000000000';
const signer = generateNoteSigner(ORIGIN);
const trusted: VerifyOptions = { trustedKey: signer.verifierKey };

function entryAt(idx: number, variant = ''): NumberedEntry {
  return {
    account_id: LOG,
    idx,
    recorded_at: `2025-06-01T12:00:00.${String(idx % 1_000_000).padStart(6, '0')}Z`,
    actor_type: 'user',
    actor_id: `usr_${idx}`,
    action: 'user.suspend',
    target_type: 'user',
    target_id: `usr_${idx * 7}`,
    cause: { request_id: `req_${idx}` },
    authz: { scope: 'users:write' },
    outcome: 'changed',
    details: { reason: `risk${variant}`, score: idx % 100, note: 'ü\u2028"' },
  };
}

/** The root of these leaves by merkle.ts's stored-tree path, independent of the verifier's compact range. */
async function rootOf(leaves: Hash[]): Promise<Hash> {
  const nodes = new Map<string, Hash>();
  const read: NodeReader = async (ids) => ids.map(({ level, index }) => nodes.get(`${level}/${index}`)!);
  for (const node of await nodesCompletedBy(0, leaves, read)) nodes.set(`${node.level}/${node.index}`, node.hash);
  return rootAt(leaves.length, read);
}

async function checkpointOf(entries: NumberedEntry[], by: NoteSigner = signer): Promise<{ note: string; root: Hash }> {
  const root = await rootOf(entries.map(leafHashOf));
  return { note: signCheckpoint({ origin: ORIGIN, size: entries.length, rootHash: root }, by), root };
}

/** The interior nodes each of these entries completes, level 1 up, in hex: what the log stores. */
const nodesOf = (entries: NumberedEntry[]): string[][] => {
  const edge: Hash[] = [];
  return entries.map((entry, idx) => {
    const made: string[] = [];
    let hash = leafHashOf(entry);
    for (let s = idx; s % 2 === 1; s = (s - 1) / 2) made.push((hash = hashChildren(edge.pop()!, hash)).toString('hex'));
    edge.push(hash);
    return made;
  });
};
const NODES = nodesOf(Array.from({ length: 5000 }, (_, i) => entryAt(i)));

/** A line as `cordon audit export` writes it (without its newline): the verifier's fast path. */
const entryLine = (entry: NumberedEntry, leafHash = leafHashOf(entry).toString('hex'), nodes = NODES[entry.idx]!) =>
  exportLine(leafData(entry), leafHash, nodes).trimEnd();
/** The same line as a JSON tool would rewrite it: members in another order. */
const bareLine = (entry: NumberedEntry, leafHash = leafHashOf(entry).toString('hex')) =>
  JSON.stringify({ leaf_hash: leafHash, nodes: NODES[entry.idx], leaf: leafObject(entry) });

function headerLine(note: string, overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    format: 'cordon-audit-export/v2',
    log: LOG,
    origin: ORIGIN,
    verifier_key: signer.verifierKey,
    checkpoint: note,
    ...overrides,
  });
}

/** An export of `size` entries whose checkpoint covers the first `signed` of them. */
async function makeExport(size: number, signed = size) {
  const entries = Array.from({ length: size }, (_, i) => entryAt(i));
  const { note, root } = await checkpointOf(entries.slice(0, signed));
  return { entries, note, root, lines: [headerLine(note), ...entries.map((e) => entryLine(e))] };
}

/** The export as text, in chunks that cut lines anywhere, as a file stream does. */
async function* stream(lines: string[]): AsyncGenerator<string> {
  const text = lines.map((line) => `${line}\n`).join('');
  for (let at = 0; at < text.length; at += 97) yield text.slice(at, at + 97);
}

const verify = (lines: string[], options: VerifyOptions = trusted) => verifyExport(stream(lines), options);

/** A copy of `lines` with the line of entry `index` rewritten by one exact text substitution. */
function editEntry(lines: string[], index: number, from: string, to: string): string[] {
  const line = lines[index + 1]!;
  expect(line).toContain(from);
  return lines.map((l, i) => (i === index + 1 ? l.replace(from, to) : l));
}

describe('verifyExport', () => {
  it('verifies a clean export and reports the signed tree', async () => {
    const { lines, root } = await makeExport(25);
    expect(await verify(lines)).toEqual({ ok: true, log: LOG, size: 25, root: root.toString('hex'), trusted: true });
    expect(await verify([...lines, ''])).toMatchObject({ ok: true }); // a trailing newline
  });

  it('says the result is untrusted when it had to use the bundle’s own key', async () => {
    const { lines, root } = await makeExport(25);
    expect(await verify(lines, {})).toEqual({
      ok: true,
      log: LOG,
      size: 25,
      root: root.toString('hex'),
      trusted: false,
    });
  });

  it('verifies an empty log, and refuses lines past the checkpoint', async () => {
    const empty = signCheckpoint({ origin: ORIGIN, size: 0, rootHash: EMPTY_ROOT }, signer);
    expect(await verify([headerLine(empty)])).toEqual({
      ok: true,
      log: LOG,
      size: 0,
      root: EMPTY_ROOT.toString('hex'),
      trusted: true,
    });
    // Nothing vouches for a line past the checkpoint, and an export never has one.
    const { lines } = await makeExport(30, 25);
    expect(await verify(lines)).toEqual({
      ok: false,
      problem:
        'entry 25: the export goes past its checkpoint (size 25): nothing vouches for this line, and an export never ' +
        'has one',
      firstBadIndex: 25,
    });
  });

  const leafMismatch = (i: number) =>
    `entry ${i}: the leaf hash does not match the leaf: the entry or its stored leaf hash was altered`;
  it.each([
    ['one byte of details', (l: string[]) => editEntry(l, 7, '"reason":"risk"', '"reason":"rusk"'), 7, leafMismatch(7)],
    [
      'one byte of the actor',
      (l: string[]) => editEntry(l, 0, '"actor":{"id":"usr_0"', '"actor":{"id":"usr_9"'),
      0,
      leafMismatch(0),
    ],
    ['one byte of recorded_at', (l: string[]) => editEntry(l, 24, '.000024Z', '.000025Z'), 24, leafMismatch(24)],
    [
      'the stored leaf hash',
      (l: string[]) => l.map((line, i) => (i === 13 ? entryLine(entryAt(12), '0'.repeat(64)) : line)),
      12,
      leafMismatch(12),
    ],
    [
      'a deleted entry line',
      (l: string[]) => l.filter((_, i) => i !== 10),
      9,
      'entry 9: index is 10 at position 9: an entry is missing, moved or repeated',
    ],
    [
      'two swapped lines',
      (l: string[]) => [...l.slice(0, 4), l[5]!, l[4]!, ...l.slice(6)],
      3,
      'entry 3: index is 4 at position 3: an entry is missing, moved or repeated',
    ],
    [
      'a repeated line',
      (l: string[]) => [...l.slice(0, 6), l[5]!, ...l.slice(6)],
      5,
      'entry 5: index is 4 at position 5: an entry is missing, moved or repeated',
    ],
    [
      'a wrong log',
      (l: string[]) => editEntry(l, 3, `"log":"${LOG}"`, '"log":"acc_other"'),
      3,
      `entry 3: log "acc_other" is not the exported log "${LOG}"`,
    ],
    [
      'a line that is not JSON',
      (l: string[]) => l.map((line, i) => (i === 2 ? line.slice(0, -1) : line)),
      1,
      'entry 1: the line is not a JSON object',
    ],
    [
      'a field no leaf covers',
      (l: string[]) => editEntry(l, 2, '"index":2,', '"index":2,"verified":true,'),
      2,
      'entry 2: leaf has the field "verified", which no leaf covers',
    ],
    [
      'a field beside the leaf',
      (l: string[]) => editEntry(l, 2, '{"leaf":', '{"verified":true,"leaf":'),
      2,
      'entry 2: the line has the field "verified", which no leaf covers',
    ],
    [
      'a wrongly typed field',
      (l: string[]) => editEntry(l, 2, '"index":2,', '"index":"2",'),
      2,
      'entry 2: index must be an integer',
    ],
    [
      'a party with a field more',
      (l: string[]) => editEntry(l, 2, '"actor":{', '"actor":{"role":"OWNER",'),
      2,
      'entry 2: actor must be {"id", "type"} strings',
    ],
  ])('catches %s and names the entry', async (_, tamper, firstBadIndex, problem) => {
    const { lines } = await makeExport(25);
    expect(await verify(tamper(lines))).toEqual({ ok: false, problem, firstBadIndex });
  });

  it('names the first missing entry when the export stops short of the checkpoint', async () => {
    const { lines } = await makeExport(25);
    expect(await verify(lines.slice(0, -3))).toEqual({
      ok: false,
      problem: 'entry 22 is missing: the export ends after 22 entries but the checkpoint covers 25',
      firstBadIndex: 22,
    });
  });

  it('fails on the root when entries and leaf hashes were forged together', async () => {
    const { lines } = await makeExport(25);
    // The last entry: no stored node covers it, so only the root can tell.
    const forged = lines.map((line, i) => (i === 25 ? entryLine({ ...entryAt(24), outcome: 'refused' }) : line));
    expect(await verify(forged)).toEqual({
      ok: false,
      problem: 'root does not match the signed checkpoint (size 25): the entries are not the ones the log signed',
    });
  });

  it('refuses a line in any other form than the exporter’s, even one that parses to the same entry', async () => {
    const { lines, entries } = await makeExport(25);
    const notExported =
      'entry 3: the line is not byte for byte what `cordon audit export` writes (reformatted, or its leaf not in RFC ' +
      '8785 form): verify the export as exported';
    const reformatted = [
      bareLine(entries[3]!), // members in another order, no nodes
      JSON.stringify(JSON.parse(lines[4]!) as unknown, null, 1).replace(/\n/g, ''), // pretty-printed
      // A JSON parser keeps the last of two members: this line parses to the genuine entry 3, whatever the first says.
      lines[4]!.replace('{"leaf":', `{"leaf":${leafData({ ...entryAt(3), outcome: 'refused' })},"leaf":`),
      lines[4]!.replace('"index":3,', '"index":3.0000000000000001,'), // parses to 3
    ];
    for (const line of reformatted) {
      expect(await verify(lines.map((l, i) => (i === 4 ? line : l)))).toEqual({
        ok: false,
        problem: notExported,
        firstBadIndex: 3,
      });
    }
  });

  it('hashes the bytes of the file, so no invalid UTF-8 can stand in for a signed U+FFFD', async () => {
    const entries = Array.from({ length: 3 }, (_, i) => ({ ...entryAt(i), details: { reason: 'r\uFFFD' } }));
    const { note } = await checkpointOf(entries);
    const nodes = nodesOf(entries);
    const text = [headerLine(note), ...entries.map((e, i) => entryLine(e, undefined, nodes[i]))]
      .map((l) => `${l}\n`)
      .join('');
    const bytes = (data: Buffer) =>
      (async function* () {
        yield data;
      })();
    expect(await verifyExport(bytes(Buffer.from(text)), trusted)).toMatchObject({ ok: true, size: 3 });
    // A decoder turns 0xFF into U+FFFD too; the bytes differ from the signed ones all the same.
    const genuine = Buffer.from(text);
    const at = genuine.indexOf(Buffer.from('\uFFFD'));
    const swapped = Buffer.concat([genuine.subarray(0, at), Buffer.of(0xff), genuine.subarray(at + 3)]);
    expect(swapped.toString('utf8')).toBe(text); // what a decoding reader would see
    expect(await verifyExport(bytes(swapped), trusted)).toMatchObject({ ok: false, firstBadIndex: 0 });
  });

  it('fails on the root when a line hashes other bytes than the leaf a JSON reader sees', async () => {
    const { lines } = await makeExport(25);
    // The last leaf: no stored node covers it, so only the root can tell. Each forgery recomputes leaf_hash over its
    // own bytes.
    const genuine = leafData(entryAt(24));
    const forgeries = [
      genuine.replace('"outcome":"changed"', '"outcome":"refused"'), // another leaf
      genuine.replace('{"action"', '{ "action"'), // the same leaf, not in canonical form
      // a second leaf member, which a JSON reader would take
      `${genuine},"leaf":${leafData({ ...entryAt(24), outcome: 'refused' })}`,
    ];
    for (const bytes of forgeries) {
      const line = `{"leaf":${bytes},"leaf_hash":"${hashLeaf(bytes).toString('hex')}","nodes":[]}`;
      expect(await verify(lines.map((l, i) => (i === 25 ? line : l)))).toEqual({
        ok: false,
        problem: 'root does not match the signed checkpoint (size 25): the entries are not the ones the log signed',
      });
    }
  });

  it('refuses a checkpoint that the pinned key did not sign, or that was altered', async () => {
    const { lines, entries } = await makeExport(25);
    const other = generateNoteSigner(ORIGIN);
    expect(await verify(lines, { trustedKey: other.verifierKey })).toEqual({
      ok: false,
      problem:
        `the checkpoint does not verify with the trusted key (${ORIGIN}) for origin "${ORIGIN}": invalid note ` +
        `(unverified): no signature by a known key`,
    });
    const altered = [lines[0]!.replace('\\n25\\n', '\\n24\\n'), ...lines.slice(1)];
    expect(await verify(altered)).toMatchObject({
      ok: false,
      problem: expect.stringContaining('invalid note (signature-invalid)'),
    });

    // A forger re-signs rewritten entries with their own key and ships that key in the header.
    const rewritten = entries.map((e) => ({ ...e, outcome: 'unchanged' as const }));
    const { note: forgedNote } = await checkpointOf(rewritten, other);
    const forgedNodes = nodesOf(rewritten);
    const forged = [
      headerLine(forgedNote, { verifier_key: other.verifierKey }),
      ...rewritten.map((e, i) => entryLine(e, undefined, forgedNodes[i])),
    ];
    expect(await verify(forged)).toMatchObject({
      ok: false,
      problem: expect.stringContaining('does not verify with the trusted key'),
    });
    expect(await verify(forged, {})).toMatchObject({ ok: true, trusted: false });
  });

  it('refuses a malformed header, a checkpoint for another origin and an unusable key', async () => {
    const { lines, note } = await makeExport(3);
    expect(await verify([])).toEqual({ ok: false, problem: 'the export is empty: no header line' });
    expect(await verify(['{', ...lines.slice(1)])).toEqual({ ok: false, problem: 'the header is not a JSON object' });
    expect(await verify([headerLine(note, { format: 'v0' }), ...lines.slice(1)])).toEqual({
      ok: false,
      problem: 'the header\'s format is "v0", expected "cordon-audit-export/v2"',
    });
    expect(await verify([headerLine(note, { log: 7 }), ...lines.slice(1)])).toEqual({
      ok: false,
      problem: "the header's log must be a non-empty string",
    });
    expect(await verify([headerLine(note, { origin: 'other.test/audit' }), ...lines.slice(1)])).toMatchObject({
      ok: false,
      problem: expect.stringContaining('invalid checkpoint: origin "cordon.test/audit", expected "other.test/audit"'),
    });
    expect(await verify(lines, { trustedKey: 'nope' })).toEqual({
      ok: false,
      problem: 'the trusted key is unusable: invalid note key: expected <name>+<key ID>+<key>',
    });
  });

  it('reports progress against the checkpoint size', async () => {
    const { lines } = await makeExport(5000);
    const calls: Array<[number, number]> = [];
    expect(await verify(lines, { ...trusted, onProgress: (done, total) => calls.push([done, total]) })).toMatchObject({
      ok: true,
    });
    expect(calls).toEqual([
      [4096, 5000],
      [5000, 5000],
    ]);
  });
});

describe('verifyExport with a previous checkpoint', () => {
  it('accepts a genuine older checkpoint, the same one, and the empty tree', async () => {
    const { lines, entries, note, root } = await makeExport(25);
    const ok = { ok: true, log: LOG, size: 25, root: root.toString('hex'), trusted: true };
    for (const size of [1, 10, 16, 24]) {
      const previous = (await checkpointOf(entries.slice(0, size))).note;
      expect(await verify(lines, { ...trusted, previousCheckpoint: previous })).toEqual({ ...ok, previous: { size } });
    }
    expect(await verify(lines, { ...trusted, previousCheckpoint: note })).toEqual({ ...ok, previous: { size: 25 } });
    const empty = signCheckpoint({ origin: ORIGIN, size: 0, rootHash: EMPTY_ROOT }, signer);
    expect(await verify(lines, { ...trusted, previousCheckpoint: empty })).toEqual({ ...ok, previous: { size: 0 } });
  });

  it('catches a log that was truncated and grown again', async () => {
    const { lines, entries } = await makeExport(25);
    // The user saw 10 entries; the log was then cut back to 4 and regrown with different entries.
    const before = [...entries.slice(0, 4), ...Array.from({ length: 6 }, (_, i) => entryAt(4 + i, '-original'))];
    const previous = (await checkpointOf(before)).note;
    expect(await verify(lines, { ...trusted, previousCheckpoint: previous })).toEqual({
      ok: false,
      problem:
        'not consistent with the previous checkpoint (size 10): the first 10 entries have another root, so the log ' +
        'was rewritten since',
    });
  });

  it('refuses a previous checkpoint that is larger, another key’s, or a non-empty root at size 0', async () => {
    const made = await makeExport(25, 20);
    const { entries } = made;
    const lines = made.lines.slice(0, 21); // the export of the 20 signed entries
    const larger = (await checkpointOf(entries)).note;
    expect(await verify(lines, { ...trusted, previousCheckpoint: larger })).toEqual({
      ok: false,
      problem: 'not consistent with the previous checkpoint (size 25): the log has shrunk to 20 entries',
    });
    const foreign = (await checkpointOf(entries.slice(0, 5), generateNoteSigner(ORIGIN))).note;
    expect(await verify(lines, { ...trusted, previousCheckpoint: foreign })).toEqual({
      ok: false,
      problem:
        'the previous checkpoint does not verify with the same key and origin: invalid note (unverified): no ' +
        'signature by a known key',
    });
    const zero = signCheckpoint({ origin: ORIGIN, size: 0, rootHash: Buffer.alloc(32) }, signer);
    expect(await verify(lines, { ...trusted, previousCheckpoint: zero })).toEqual({
      ok: false,
      problem: 'not consistent with the previous checkpoint (size 0): its root is not the empty tree root',
    });
    // The checks run in order: a tampered entry is reported before the previous checkpoint.
    const tampered = editEntry(lines, 2, '"actor":{"id":"usr_2"', '"actor":{"id":"usr_3"');
    expect(await verify(tampered, { ...trusted, previousCheckpoint: foreign })).toMatchObject({
      ok: false,
      firstBadIndex: 2,
    });
  });
});

describe('verifyExport, property', () => {
  const base = Array.from({ length: 300 }, (_, i) => entryAt(i));
  const baseLeaves = base.map(leafHashOf);
  const mutations: Record<string, (entry: NumberedEntry) => NumberedEntry> = {
    details: (e) => ({ ...e, details: { ...e.details, score: -1 } }),
    actor_id: (e) => ({ ...e, actor_id: `${e.actor_id}x` }),
    recorded_at: (e) => ({ ...e, recorded_at: e.recorded_at.replace('2025', '2024') }),
    account_id: (e) => ({ ...e, account_id: 'acc_other' }),
    target_type: (e) => ({ ...e, target_type: 'group' }),
    idx: (e) => ({ ...e, idx: e.idx + 1 }),
  };

  it('names exactly the entry that one mutation touched', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 300 }),
        fc.nat(),
        fc.constantFrom(...Object.keys(mutations), 'leaf_hash', 'reformatted', 'delete', 'swap'),
        async (size, at, kind) => {
          const index = at % size;
          const entries = base.slice(0, size);
          const note = signCheckpoint(
            { origin: ORIGIN, size, rootHash: await rootOf(baseLeaves.slice(0, size)) },
            signer,
          );
          const body = entries.map((e) => entryLine(e));
          if (kind === 'delete') body.splice(index, 1);
          else if (kind === 'swap')
            body.splice(index, 2, ...(index + 1 < size ? [body[index + 1]!, body[index]!] : []));
          else if (kind === 'leaf_hash')
            body[index] = entryLine(entries[index]!, baseLeaves[(index + 1) % 300]!.toString('hex'));
          else if (kind === 'reformatted') body[index] = bareLine(entries[index]!);
          else
            body[index] = entryLine(
              mutations[kind]!(entries[index]!),
              baseLeaves[index]!.toString('hex'),
              NODES[index],
            );
          const report = await verify([headerLine(note), ...body]);
          expect(report).toMatchObject({ ok: false, firstBadIndex: index });
        },
      ),
      { numRuns: 150 },
    );
  });
});
