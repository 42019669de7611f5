/**
 * A leak report, once its signature is verified: each token labelled `true_positive` (a live secret Cordon
 * issued) or `false_positive` (a look-alike, never issued, or already revoked, rotated or expired), and the
 * report recorded. One transaction holds the replay claim and every entry, so a report either counts whole
 * or not at all (and a code host's retry after a failure is taken).
 *
 * Recorded: one `secret.leak_report` entry in the system log (the key, the counts), and per live secret one
 * `secret.leaked` entry in its account's log, whose target is the secret's owner. Entries carry the
 * SHA-256 of a secret, never the secret. Nothing is revoked here: containment builds on findLeakedSecrets.
 */
import { SYSTEM_LOG, type AuditEntryInput, type CallContext } from '../../audit/entry.js';
import type { AuditLog } from '../../audit/log.js';
import { AppError } from '../../errors.js';
import type { Sealer } from '../../sealing.js';
import type { Executor } from '../../store/executor.js';
import { claimReport } from '../../store/leaked-secrets.js';
import { findLeakedSecrets, sha256Hex } from './find-leaked.js';

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

export interface LeakReportDeps {
  db: Executor;
  audit: AuditLog;
  sealer: Sealer;
}

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
  return deps.audit.transact(async (trx) => {
    if (!(await claimReport(trx, report.replayHash, REPLAY_WINDOW_SECONDS)))
      throw new AppError('LEAK_REPORT_REPLAYED', {
        description:
          'leak_report_replayed: this signed report was already received; send the report again with a new signature',
      });
    const found = await findLeakedSecrets(
      trx,
      report.tokens.map((item) => item.token),
      deps.sealer,
    );
    const entries: AuditEntryInput[] = [];
    const recorded = new Set<string>();
    report.tokens.forEach((item, i) => {
      const leaked = found.get(hashes[i]!);
      if (!leaked || recorded.has(leaked.token_hash)) return;
      recorded.add(leaked.token_hash);
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
    await deps.audit.append(trx, entries);
    return labels;
  });
}
