/**
 * A leak report, once its signature is verified: each token labelled `true_positive` (a live secret Cordon
 * issued) or `false_positive` (a look-alike, never issued, or already revoked, rotated or expired), and the
 * report recorded. One transaction holds the replay claim and every entry, so a report either counts whole
 * or not at all (and a code host's retry after a failure is taken).
 *
 * Recorded: one `secret.leak_report` entry in the system log (the key, the counts), and per live secret one
 * `secret.leaked` entry in its account's log, whose target is the secret's owner. Entries carry the
 * SHA-256 of a secret, never the secret.
 *
 * Contained in the same transaction: each live secret becomes a `secret.leaked` signal in its owner's
 * account (source `secret-scanning:<key id>`), which the response engine plans and executes as any other
 * (response/nhi.ts; by default the built-in `leaked-secret` playbook rotates it). When the answer leaves,
 * every leaked secret the playbooks act on is dead. Owners are taken in a fixed order, so two reports
 * naming the same secrets never wait on each other's locks in a cycle.
 */
import { SYSTEM_LOG, toAuditRow, type AuditEntryInput, type CallContext } from '../../audit/entry.js';
import { AppError } from '../../errors.js';
import { claimReport } from '../../store/leaked-secrets.js';
import { receiveSignalIn, type IncomingSignal, type ResponseDeps } from '../engine.js';
import { SECRET_LEAKED } from '../intake/canonical.js';
import type { CanonicalSignal } from '../intake/signal.js';
import { nhiSubjectOf } from '../nhi-subject.js';
import { findLeakedSecrets, sha256Hex, type LeakedSecret } from './find-leaked.js';

/** How long a signed report is remembered, to refuse it if it comes again. */
export const REPLAY_WINDOW_SECONDS = 7 * 86_400;

/** One match of a report, as the code host sends it. */
export interface ReportedToken {
  token: string;
  type: string;
  url?: string | undefined;
  source?: string | undefined;
}

export interface TokenLabel {
  token_hash: string;
  token_type: string;
  label: 'true_positive' | 'false_positive';
}

export type LeakReportDeps = ResponseDeps;

export interface LeakReport {
  /** Identifies the signed report for replay (signature.ts reportReplayHash). */
  replayHash: string;
  keyIdentifier: string;
  tokens: readonly ReportedToken[];
  ctx: CallContext;
}

/** Labels a report's tokens, in its order, and records it; LEAK_REPORT_REPLAYED when it was received before. */
export async function receiveLeakReport(deps: LeakReportDeps, report: LeakReport): Promise<TokenLabel[]> {
  const hashes = report.tokens.map((item) => sha256Hex(item.token));
  let wroteSteps = 0;
  const labels = await deps.audit.transact(async (trx) => {
    const found = await findLeakedSecrets(
      trx,
      report.tokens.map((item) => item.token),
      deps.sealer,
    );
    const entries: AuditEntryInput[] = [];
    const leaks = new Map<string, { leaked: LeakedSecret; item: ReportedToken }>();
    report.tokens.forEach((item, i) => {
      const leaked = found.get(hashes[i]!);
      if (!leaked || leaks.has(leaked.token_hash)) return;
      leaks.set(leaked.token_hash, { leaked, item });
      entries.push({
        accountId: leaked.owner.account_id,
        ctx: report.ctx,
        action: 'secret.leaked',
        target: { type: leaked.owner.type, id: leaked.owner.id },
        outcome: 'read',
        details: {
          token_hash: leaked.token_hash,
          kind: leaked.kind,
          token_type: item.type,
          url: item.url ?? null,
          source: item.source ?? null,
          report: report.replayHash,
          ...(leaked.credential ? { credential: leaked.credential } : {}),
        },
      });
    });
    const labels = report.tokens.map((item, i) => ({
      token_hash: hashes[i]!,
      token_type: item.type,
      label: found.has(hashes[i]!) ? ('true_positive' as const) : ('false_positive' as const),
    }));
    entries.push({
      accountId: SYSTEM_LOG,
      ctx: report.ctx,
      action: 'secret.leak_report',
      target: { type: 'leak_report', id: report.replayHash },
      outcome: 'read',
      details: {
        key_identifier: report.keyIdentifier,
        tokens: labels.length,
        true_positives: labels.filter((l) => l.label === 'true_positive').length,
        accounts: new Set(entries.map((e) => e.accountId)).size,
      },
    });
    // The replay claim and the entries in one statement: a replay writes nothing.
    if (!(await claimReport(trx, report.replayHash, REPLAY_WINDOW_SECONDS, entries.map(toAuditRow))))
      throw new AppError('LEAK_REPORT_REPLAYED', {
        description:
          'leak_report_replayed: this signed report was already received; send the report again with a new signature',
      });
    const ordered = [...leaks.values()].sort((a, b) => ownerKey(a.leaked).localeCompare(ownerKey(b.leaked)));
    for (const { leaked, item } of ordered) {
      const received = await receiveSignalIn(deps, trx, leakSignal(report, leaked, item));
      wroteSteps += received.wroteSteps;
    }
    return labels;
  });
  if (wroteSteps > 0) deps.steps?.kick();
  return labels;
}

const ownerKey = ({ owner }: LeakedSecret) => `${owner.account_id}/${owner.type}/${owner.id}`;

/** A URL the record keeps of where the leak was found, cut to this many characters. */
const MAX_URL = 2000;

/** A live secret of a report as a signal in its owner's account: its hash and where it was found, never it. */
function leakSignal(report: LeakReport, leaked: LeakedSecret, item: ReportedToken): IncomingSignal {
  const keyId = report.keyIdentifier;
  const attributes: Record<string, string> = {
    'secret.sha256': leaked.token_hash,
    'secret.report': report.replayHash,
    'secret.token_type': item.type.slice(0, 200),
    ...(item.url ? { 'secret.url': item.url.slice(0, MAX_URL) } : {}),
    ...(item.source ? { 'secret.source': item.source.slice(0, 200) } : {}),
  };
  const signal: CanonicalSignal = {
    external_id: `${report.replayHash.slice(0, 64)}:${leaked.token_hash}`,
    type: SECRET_LEAKED,
    title: `A Cordon secret (${leaked.kind}) of ${leaked.owner.type} ${leaked.owner.id} found in public (${keyId})`,
    severity: 'critical',
    confidence: 1,
    subject: {},
    observed_time: new Date().toISOString(),
    tags: ['secret-scanning'],
    attributes,
  };
  return {
    accountId: leaked.owner.account_id,
    sourceId: `secret-scanning:${keyId}`.slice(0, 200),
    signal,
    rawText: JSON.stringify({ token_hash: leaked.token_hash, type: item.type, url: item.url, source: item.source }),
    ctx: report.ctx,
    owner: nhiSubjectOf(leaked),
  };
}
