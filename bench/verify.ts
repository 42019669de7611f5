/**
 * `cordon audit verify` on a large export, without a database: writes a synthetic export of
 * BENCH_ENTRIES (1,000,000) entries shaped like a suspension's (cause, authz and details filled in),
 * signed by a fresh key, to a temporary file, then times verifyExport over the file as the CLI reads it.
 * bench/audit.ts times the same over an export of a real log; this one isolates the verifier.
 *   npx tsx bench/verify.ts
 * Knobs: BENCH_ENTRIES=1000000; BENCH_ROUNDS=3.
 */
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { signCheckpoint } from '../src/audit/checkpoint.js';
import { leafData } from '../src/audit/leaf.js';
import { foldRange, hashChildren, hashLeaf, type Hash } from '../src/audit/merkle.js';
import { generateNoteSigner } from '../src/audit/note.js';
import { EXPORT_FORMAT, exportLine, verifyExport } from '../src/audit/verify.js';
import type { NumberedEntry } from '../src/store/audit.js';
import { round } from './support.js';

const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LOG = 'QZ4A7B2C3D5E6F7G2H3J4K5L6M';
const ORIGIN = `bench.cordon.example/${LOG}`;

const entryAt = (idx: number): NumberedEntry => ({
  account_id: LOG,
  idx,
  recorded_at: new Date(Date.UTC(2026, 11, 1) + idx * 7).toISOString().replace('Z', '123Z'),
  actor_type: 'app',
  actor_id: 'AP7K2M4N6P3Q5R7S2T4V6W3X5Y',
  action: idx % 2 === 0 ? 'user.suspend' : 'user.reactivate',
  target_type: 'user',
  target_id: `US${String(idx).padStart(24, 'A')}`,
  cause: { reason: 'impossible travel', ticket: `SOC-${idx}`, signal_id: `SG${idx}` },
  authz: {
    method: 'oauth_client_credentials',
    client_id: 'cordon_app_bench',
    jti: `jti-${idx}`,
    permissions: ['users:read', 'users:suspend'],
  },
  outcome: 'changed',
  details: {
    sessions_revoked: idx % 4,
    tokens_revoked: 1,
    request_id: `req-${idx}`,
    user_agent: 'ElasticKibana',
    source: '192.0.2.7',
  },
});

/** Writes the export, folding the root as it goes (the same compact range the verifier keeps). */
async function writeExport(file: string) {
  const signer = generateNoteSigner('bench.cordon.example');
  const edge: Hash[] = [];
  const out = createWriteStream(file);
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  let page = '';
  for (let idx = 0; idx < ENTRIES; idx++) {
    const entry = entryAt(idx);
    const data = leafData(entry);
    const leaf = hashLeaf(data);
    const nodes: string[] = [];
    let hash = leaf;
    for (let s = idx; s % 2 === 1; s = (s - 1) / 2)
      nodes.push((hash = hashChildren(edge.pop()!, hash)).toString('hex'));
    edge.push(hash);
    page += exportLine(data, leaf.toString('hex'), nodes);
    if (page.length > 1 << 20) {
      await write(page);
      page = '';
    }
  }
  const note = signCheckpoint({ origin: ORIGIN, size: ENTRIES, rootHash: foldRange(edge) }, signer);
  await write(page);
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  return { note, verifierKey: signer.verifierKey };
}

const dir = mkdtempSync(path.join(tmpdir(), 'cordon-bench-verify-'));
try {
  const body = path.join(dir, 'body.jsonl');
  let t = performance.now();
  const { note, verifierKey } = await writeExport(body);
  const writeSeconds = round((performance.now() - t) / 1000);
  // The header goes first: write it and append the body.
  const file = path.join(dir, 'export.jsonl');
  const header =
    JSON.stringify({ format: EXPORT_FORMAT, log: LOG, origin: ORIGIN, verifier_key: verifierKey, checkpoint: note }) +
    '\n';
  const out = createWriteStream(file);
  out.write(header);
  createReadStream(body).pipe(out);
  await once(out, 'finish');

  const runs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    t = performance.now();
    const report = await verifyExport(createReadStream(file, { highWaterMark: 1 << 20 }), { trustedKey: verifierKey });
    runs.push(round((performance.now() - t) / 1000));
    if (!report.ok || report.size !== ENTRIES) throw new Error(`verify: ${JSON.stringify(report)}`);
  }
  console.log(
    JSON.stringify(
      {
        bench: 'verify',
        node: process.version,
        entries: ENTRIES,
        export_bytes: statSync(file).size,
        write_seconds: writeSeconds,
        verify_seconds: runs,
        verify_seconds_median: [...runs].sort((a, b) => a - b)[Math.floor(runs.length / 2)],
        target_seconds: 10,
      },
      null,
      2,
    ),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
