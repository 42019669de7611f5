/**
 * The mirror of each target's users (target_identities), which a signal's subject resolves through.
 *
 * - `syncTarget`: a full walk of the target's users through its connector's `list` (1Password: ListUsers
 *   at max_page_size=1000 by next_page_token; SCIM: GET /Users by startIndex/count), one page at a time,
 *   each upserted in batches as it comes (memory stays bounded whatever the target's size); after a
 *   complete walk the identities it did not see are deleted. A walk that fails keeps the mirror as it was
 *   and records the target's error in last_sync_error.
 * - `syncSubject`: one subject on demand, through the connector's `resolve`.
 * - `SyncWorker`: every CORDON_TARGET_SYNC_CHECK_MS each node claims the targets whose sync is due
 *   (last_sync_at + sync_interval_seconds) under a lease (sync_lease_until, FOR UPDATE SKIP LOCKED), so
 *   two nodes never walk the same target at once.
 *
 * Each sync writes a `target.sync` entry to the account's log (actor system `target-sync` on schedule).
 */
import type { Logger } from 'pino';
import type { CallContext } from '../audit/entry.js';
import { AppError } from '../errors.js';
import { Periodic } from '../periodic.js';
import {
  claimDueSyncTargets,
  deleteIdentitiesNotSeenSince,
  deleteIdentity,
  findIdentitiesByHints,
  findTarget,
  leaseTargetSync,
  updateTarget,
  upsertIdentities,
  type TargetRow,
} from '../store/targets.js';
import { isTargetError, type SubjectHints, type TargetErrorDetails } from './connector.js';
import { unrecorded } from './http.js';
import { errorMessage } from './health.js';
import { openConnector, type TargetDeps } from './registry.js';

export const SYNC_CONTEXT: CallContext = { actor: { type: 'system', id: 'target-sync' }, authz: { method: 'job' } };

/** How long a sync holds its target before another node may take it over (renewed at every page). */
const LEASE_SECONDS = 600;
const BATCH = 500;
/** After a failed walk, the next scheduled one waits this long (or the target's interval, if shorter). */
const FAILURE_BACKOFF_SECONDS = 300;

export interface SyncResult {
  target_id: string;
  mode: 'full' | 'subject';
  ok: boolean;
  /** Identities read from the target (and mirrored). */
  seen: number;
  /** Mirrored identities deleted: not seen by a complete walk, or no longer on the target. */
  removed: number;
  pages: number;
  error?: TargetErrorDetails | undefined;
}

function detailsOf(error: unknown): TargetErrorDetails {
  if (isTargetError(error)) return error.details;
  return { class: 'fatal', status: null, code: null, message: errorMessage(error), request_id: null };
}

function notSyncable(target: TargetRow): void {
  if (target.kind === 'gtr')
    throw new AppError('FAILED_PRECONDITION', {
      description: 'a gtr target only revokes sessions: it has no users to mirror',
    });
}

/** Takes the target's sync lease for an on-demand full walk; refused while another sync holds it. */
export async function syncTargetNow(deps: TargetDeps, ctx: CallContext, target: TargetRow): Promise<SyncResult> {
  notSyncable(target);
  if (!(await leaseTargetSync(deps.db, target.account_id, target.id, LEASE_SECONDS)))
    throw new AppError('FAILED_PRECONDITION', { description: 'a sync of this target is already running' });
  return syncTarget(deps, target, ctx);
}

/** A full walk of a target whose sync lease the caller holds; ends the lease. */
export async function syncTarget(deps: TargetDeps, target: TargetRow, ctx = SYNC_CONTEXT): Promise<SyncResult> {
  const { account_id: accountId, id } = target;
  const since = new Date();
  const result: SyncResult = { target_id: id, mode: 'full', ok: false, seen: 0, removed: 0, pages: 0 };
  try {
    const connector = openConnector(deps, target);
    let page: string | undefined;
    do {
      const { identities, next } = await unrecorded(() => connector.list(page));
      for (let i = 0; i < identities.length; i += BATCH)
        await upsertIdentities(deps.db, accountId, id, identities.slice(i, i + BATCH), since);
      result.pages++;
      result.seen += identities.length;
      if (next !== undefined && next === page) throw new Error(`the target repeated page ${next.slice(0, 100)}`);
      page = next;
      await leaseTargetSync(deps.db, accountId, id, LEASE_SECONDS, true);
    } while (page !== undefined);
  } catch (error) {
    result.error = detailsOf(error);
  }
  result.ok = result.error === undefined;
  await deps.audit.transact(async (trx) => {
    const current = await findTarget(trx, accountId, id, true);
    if (!current) return; // removed meanwhile: its identities went with it
    if (result.ok) result.removed = await deleteIdentitiesNotSeenSince(trx, accountId, id, since);
    await updateTarget(trx, accountId, id, {
      last_sync_error: result.error ? `${result.error.status ?? 'no answer'}: ${result.error.message}` : null,
      sync_lease_until: null,
      ...(result.ok ? { last_sync_at: new Date(), sync_failed_at: null } : { sync_failed_at: new Date() }),
    });
    await deps.audit.append(trx, {
      accountId,
      ctx,
      action: 'target.sync',
      target: { type: 'target', id },
      outcome: result.ok ? 'changed' : 'unchanged',
      details: { name: target.name, kind: target.kind, ...result },
    });
  });
  return result;
}

/**
 * Mirrors one subject on demand: the identity the connector resolves from the hints is upserted; when it
 * resolves to none, the mirrored identities the hints named on this target are deleted.
 */
export async function syncSubject(
  deps: TargetDeps,
  target: TargetRow,
  hints: SubjectHints,
  ctx = SYNC_CONTEXT,
): Promise<SyncResult> {
  notSyncable(target);
  const { account_id: accountId, id } = target;
  const result: SyncResult = { target_id: id, mode: 'subject', ok: false, seen: 0, removed: 0, pages: 0 };
  let found: Awaited<ReturnType<ReturnType<typeof openConnector>['resolve']>> = null;
  try {
    const connector = openConnector(deps, target);
    found = await unrecorded(() => connector.resolve(hints));
  } catch (error) {
    result.error = detailsOf(error);
  }
  result.ok = result.error === undefined;
  await deps.audit.transact(async (trx) => {
    if (!(await findTarget(trx, accountId, id, true))) return;
    if (found) {
      await upsertIdentities(trx, accountId, id, [found]);
      result.seen = 1;
    } else if (result.ok) {
      const stale = await findIdentitiesByHints(
        trx,
        accountId,
        {
          emails: hints.email ? [hints.email] : [],
          userNames: hints.user_name ? [hints.user_name] : [],
          externalIds: hints.external_id ? [hints.external_id] : [],
        },
        [id],
      );
      for (const identity of stale) await deleteIdentity(trx, accountId, id, identity.external_id);
      result.removed = stale.length;
    }
    await deps.audit.append(trx, {
      accountId,
      ctx,
      action: 'target.sync',
      target: { type: 'target', id },
      outcome: result.ok ? 'changed' : 'unchanged',
      details: {
        name: target.name,
        kind: target.kind,
        ...result,
        subject: hints,
        external_id: found?.external_id ?? null,
      },
    });
  });
  return result;
}

/** The scheduled sync every node runs: claims due targets under a lease and walks them one at a time. */
export class SyncWorker {
  private readonly periodic: Periodic;

  constructor(
    private readonly deps: TargetDeps,
    options: { intervalMs: number; logger?: Logger | undefined },
  ) {
    this.periodic = new Periodic(
      () => this.pass(),
      options.intervalMs,
      (error) => options.logger?.error({ err: error }, 'target sync failed; retrying'),
    );
  }

  start(): void {
    this.periodic.start();
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  /** One pass: syncs every due target this node could claim; returns their results. */
  async pass(): Promise<SyncResult[]> {
    const results: SyncResult[] = [];
    for (;;) {
      const [target] = await claimDueSyncTargets(this.deps.db, 1, LEASE_SECONDS, FAILURE_BACKOFF_SECONDS);
      if (!target) return results;
      results.push(await syncTarget(this.deps, target));
    }
  }
}
