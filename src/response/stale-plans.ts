/**
 * Pending suspension plans go void when what they stand on changes: a new version of their playbook or
 * of the protection policy (their digest no longer matches), or a restore of their subject (approvals
 * asked for before it are stale). Each void plan gets its `plan.void` entry, in the caller's transaction.
 * (A decision on a plan checks its digest again anyway: response/approvals.ts.)
 */
import type { Transaction } from 'kysely';
import type { CallContext } from '../audit/entry.js';
import type { DirectoryDeps } from '../directory/deps.js';
import type { Database } from '../storage/schema.js';
import { voidPendingSuspensions } from '../store/approvals.js';

export async function voidStalePlans(
  deps: DirectoryDeps,
  trx: Transaction<Database>,
  ctx: CallContext,
  accountId: string,
  scope: { subjectUserId?: string; playbookName?: string },
  reason: string,
  details: Record<string, unknown> = {},
): Promise<string[]> {
  const voided = await voidPendingSuspensions(trx, accountId, scope);
  if (voided.length > 0) {
    await deps.audit.append(
      trx,
      voided.map((id) => ({
        accountId,
        ctx,
        action: 'plan.void',
        target: { type: 'plan', id },
        outcome: 'changed' as const,
        details: { reason, ...details },
      })),
    );
  }
  return voided;
}
